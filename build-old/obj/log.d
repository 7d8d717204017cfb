build-old/obj/log.o: src/log.c include/log.h include/cdrimport.h
include/log.h:
include/cdrimport.h:
