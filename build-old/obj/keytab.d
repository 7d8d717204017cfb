build-old/obj/keytab.o: src/keytab.c include/keytab.h include/cdrimport.h
include/keytab.h:
include/cdrimport.h:
