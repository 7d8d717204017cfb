build-old/obj/fetch.o: src/fetch.c include/fetch.h include/cdrimport.h \
 include/config.h include/profile.h include/fetch_sched.h include/log.h \
 include/spool.h include/transfer.h
include/fetch.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/fetch_sched.h:
include/log.h:
include/spool.h:
include/transfer.h:
