build-old/obj/zone.o: src/zone.c include/zone.h include/cdrimport.h
include/zone.h:
include/cdrimport.h:
