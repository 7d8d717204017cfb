build-old/obj/watch_fetch.o: src/watch_fetch.c include/db.h \
 include/cdrimport.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/fetch.h \
 include/fetch_sched.h include/fetch_status.h include/db.h \
 include/fetch.h include/log.h include/schema.h include/spool.h \
 include/watch_backend.h include/pending.h
include/db.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/fetch.h:
include/fetch_sched.h:
include/fetch_status.h:
include/db.h:
include/fetch.h:
include/log.h:
include/schema.h:
include/spool.h:
include/watch_backend.h:
include/pending.h:
