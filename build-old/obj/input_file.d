build-old/obj/input_file.o: src/input_file.c include/input.h \
 include/cdrimport.h
include/input.h:
include/cdrimport.h:
