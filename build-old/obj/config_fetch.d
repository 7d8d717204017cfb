build-old/obj/config_fetch.o: src/config_fetch.c include/config_fetch.h \
 include/config.h include/cdrimport.h include/profile.h include/keytab.h
include/config_fetch.h:
include/config.h:
include/cdrimport.h:
include/profile.h:
include/keytab.h:
