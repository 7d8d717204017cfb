build-old/obj/util.o: src/util.c include/cdrimport.h
include/cdrimport.h:
