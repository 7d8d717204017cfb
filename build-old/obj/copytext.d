build-old/obj/copytext.o: src/copytext.c include/copytext.h \
 include/cdrimport.h include/checksum.h include/profile.h
include/copytext.h:
include/cdrimport.h:
include/checksum.h:
include/profile.h:
