build-old/obj/config.o: src/config.c include/config.h include/cdrimport.h \
 include/profile.h include/config_fetch.h include/config.h \
 include/keytab.h include/keytab.h
include/config.h:
include/cdrimport.h:
include/profile.h:
include/config_fetch.h:
include/config.h:
include/keytab.h:
include/keytab.h:
