build-old/obj/sql.o: src/sql.c include/sql.h
include/sql.h:
