build-old/obj/fetch_sched.o: src/fetch_sched.c include/fetch_sched.h \
 include/cdrimport.h
include/fetch_sched.h:
include/cdrimport.h:
