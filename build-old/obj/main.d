build-old/obj/main.o: src/main.c include/cdrimport.h include/config.h \
 include/cdrimport.h include/profile.h include/fetch_cmd.h include/job.h \
 include/config.h include/file.h include/load.h include/db.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/ledger.h \
 include/fetch_status.h include/fetch.h include/fetch_sched.h \
 include/job.h include/load.h include/log.h include/prune.h \
 include/schema.h include/profile.h include/source.h include/watch.h
include/cdrimport.h:
include/config.h:
include/cdrimport.h:
include/profile.h:
include/fetch_cmd.h:
include/job.h:
include/config.h:
include/file.h:
include/load.h:
include/db.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/ledger.h:
include/fetch_status.h:
include/fetch.h:
include/fetch_sched.h:
include/job.h:
include/load.h:
include/log.h:
include/prune.h:
include/schema.h:
include/profile.h:
include/source.h:
include/watch.h:
