build-old/obj/value.o: src/value.c include/value.h include/cdrimport.h
include/value.h:
include/cdrimport.h:
