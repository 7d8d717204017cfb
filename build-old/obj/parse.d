build-old/obj/parse.o: src/parse.c include/parse.h include/cdrimport.h
include/parse.h:
include/cdrimport.h:
