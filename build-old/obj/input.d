build-old/obj/input.o: src/input.c include/input.h include/cdrimport.h \
 include/checksum.h
include/input.h:
include/cdrimport.h:
include/checksum.h:
