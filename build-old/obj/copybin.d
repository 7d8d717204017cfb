build-old/obj/copybin.o: src/copybin.c include/copybin.h \
 include/cdrimport.h
include/copybin.h:
include/cdrimport.h:
