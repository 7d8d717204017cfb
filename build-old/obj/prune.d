build-old/obj/prune.o: src/prune.c include/prune.h include/db.h \
 include/cdrimport.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/log.h \
 include/partition.h include/sql.h
include/prune.h:
include/db.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/log.h:
include/partition.h:
include/sql.h:
