build-old/obj/job.o: src/job.c include/job.h include/cdrimport.h \
 include/config.h include/profile.h include/file.h include/load.h \
 include/db.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/ledger.h \
 include/finish.h include/log.h include/schema.h
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
include/finish.h:
include/log.h:
include/schema.h:
