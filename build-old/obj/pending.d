build-old/obj/pending.o: src/pending.c include/pending.h \
 include/cdrimport.h include/source.h include/config.h include/profile.h
include/pending.h:
include/cdrimport.h:
include/source.h:
include/config.h:
include/profile.h:
