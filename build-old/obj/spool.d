build-old/obj/spool.o: src/spool.c include/spool.h include/cdrimport.h
include/spool.h:
include/cdrimport.h:
