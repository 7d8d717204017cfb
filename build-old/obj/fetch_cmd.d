build-old/obj/fetch_cmd.o: src/fetch_cmd.c include/fetch_cmd.h \
 include/job.h include/cdrimport.h include/config.h include/profile.h \
 include/file.h include/load.h include/db.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/ledger.h include/fetch.h \
 include/fetch_sched.h include/fetch_status.h include/fetch.h \
 include/log.h include/source.h include/spool.h include/transfer.h
include/fetch_cmd.h:
include/job.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/file.h:
include/load.h:
include/db.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/ledger.h:
include/fetch.h:
include/fetch_sched.h:
include/fetch_status.h:
include/fetch.h:
include/log.h:
include/source.h:
include/spool.h:
include/transfer.h:
