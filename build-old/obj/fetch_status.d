build-old/obj/fetch_status.o: src/fetch_status.c include/fetch_status.h \
 include/db.h include/cdrimport.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/fetch.h \
 include/fetch_sched.h include/sql.h
include/fetch_status.h:
include/db.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/fetch.h:
include/fetch_sched.h:
include/sql.h:
