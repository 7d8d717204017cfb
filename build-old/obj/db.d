build-old/obj/db.o: src/db.c include/db.h include/cdrimport.h \
 include/config.h include/profile.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/partition.h include/db.h \
 include/sql.h include/zone.h
include/db.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/partition.h:
include/db.h:
include/sql.h:
include/zone.h:
