build-old/obj/finish.o: src/finish.c include/finish.h include/cdrimport.h \
 include/config.h include/profile.h
include/finish.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
