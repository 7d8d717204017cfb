build-old/obj/ledger.o: src/ledger.c include/ledger.h include/db.h \
 include/cdrimport.h include/config.h include/profile.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/copytext.h \
 include/checksum.h include/sql.h
include/ledger.h:
include/db.h:
include/cdrimport.h:
include/config.h:
include/profile.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/copytext.h:
include/checksum.h:
include/sql.h:
