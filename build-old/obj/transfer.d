build-old/obj/transfer.o: src/transfer.c include/transfer.h \
 include/cdrimport.h include/config.h include/profile.h \
 include/fetch_sched.h include/spool.h
include/transfer.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/fetch_sched.h:
include/spool.h:
