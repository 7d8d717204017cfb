build-old/obj/load.o: src/load.c include/load.h include/cdrimport.h \
 include/db.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/ledger.h include/dedup.h \
 include/partition.h include/copybin.h include/copytext.h \
 include/checksum.h include/pump.h include/sql.h include/zone.h
include/load.h:
include/cdrimport.h:
include/db.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/ledger.h:
include/dedup.h:
include/partition.h:
include/copybin.h:
include/copytext.h:
include/checksum.h:
include/pump.h:
include/sql.h:
include/zone.h:
