build-old/obj/watch_inotify.o: src/watch_inotify.c \
 include/watch_backend.h include/cdrimport.h include/config.h \
 include/profile.h include/pending.h include/log.h include/source.h
include/watch_backend.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/pending.h:
include/log.h:
include/source.h:
