build-old/obj/watch.o: src/watch.c include/watch.h include/cdrimport.h \
 include/config.h include/profile.h include/job.h include/file.h \
 include/load.h include/db.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/ledger.h include/log.h \
 include/pending.h include/prune.h include/schema.h include/source.h \
 include/watch_backend.h include/pending.h
include/watch.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/job.h:
include/file.h:
include/load.h:
include/db.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/ledger.h:
include/log.h:
include/pending.h:
include/prune.h:
include/schema.h:
include/source.h:
include/watch_backend.h:
include/pending.h:
