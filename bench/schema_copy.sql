-- schema_copy.sql - the baseline table for the benchmark: what a careful DBA
-- would load Master.csv into with plain `psql \copy` (and with pgloader).
-- One typed column per KX-HTS field in file order, so `\copy ... (FORMAT csv)`
-- reads the file as is (an unquoted empty Answer Time is NULL), and one unique
-- index so that loading costs an index insert per row, as deduplication does.
DROP TABLE IF EXISTS cdr_copy;
CREATE TABLE cdr_copy (
    account_code text,
    caller       text,
    callee       text,
    src_channel  text,
    dst_channel  text,
    feature      text,
    opt1         text,
    opt2         text,
    start_time   timestamp,
    answer_time  timestamp,
    end_time     timestamp,
    total_s      int,
    talk_s       int,
    status       text,
    uniqueid     text,
    UNIQUE (uniqueid, start_time, src_channel, dst_channel)
);
