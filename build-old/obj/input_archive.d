build-old/obj/input_archive.o: src/input_archive.c \
 include/input_archive.h include/cdrimport.h include/input.h
include/input_archive.h:
include/cdrimport.h:
include/input.h:
