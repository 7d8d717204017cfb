build-old/obj/source.o: src/source.c include/source.h include/cdrimport.h \
 include/config.h include/profile.h include/log.h
include/source.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/log.h:
