build-old/obj/pump.o: src/pump.c include/pump.h include/db.h \
 include/cdrimport.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h
include/pump.h:
include/db.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
