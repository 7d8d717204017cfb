build-old/obj/watch_poll.o: src/watch_poll.c include/watch_backend.h \
 include/cdrimport.h include/config.h include/profile.h include/pending.h \
 include/log.h
include/watch_backend.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/pending.h:
include/log.h:
