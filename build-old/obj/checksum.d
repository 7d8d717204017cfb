build-old/obj/checksum.o: src/checksum.c include/checksum.h \
 include/cdrimport.h
include/checksum.h:
include/cdrimport.h:
