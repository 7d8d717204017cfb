build-old/obj/file.o: src/file.c include/file.h include/cdrimport.h \
 include/config.h include/profile.h include/load.h include/db.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/ledger.h include/input.h \
 include/input_archive.h include/input.h include/ledger.h include/log.h \
 include/packed.h include/file.h include/parse.h
include/file.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
include/load.h:
include/db.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/ledger.h:
include/input.h:
include/input_archive.h:
include/input.h:
include/ledger.h:
include/log.h:
include/packed.h:
include/file.h:
include/parse.h:
