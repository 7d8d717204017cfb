build-old/obj/profile.o: src/profile.c include/profile.h \
 include/cdrimport.h include/value.h
include/profile.h:
include/cdrimport.h:
include/value.h:
