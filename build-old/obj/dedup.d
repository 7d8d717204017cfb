build-old/obj/dedup.o: src/dedup.c include/dedup.h include/cdrimport.h \
 include/db.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/copybin.h include/sql.h
include/dedup.h:
include/cdrimport.h:
include/db.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/copybin.h:
include/sql.h:
