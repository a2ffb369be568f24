// Package sensorcsv reads and writes the CSV files that aewatch eval and
// produce take: a header row, a timestamp column first (after a row index,
// if any, as pandas writes one, which is dropped) (RFC3339,
// "2006-01-02 15:04:05[.fff]" and its common variants, a date, or Unix
// seconds, milliseconds, microseconds or nanoseconds: ParseTime; or a date
// and a time of day in the first two columns), then
// numeric channels, separated by ',', ';' or tabs (told from the header;
// in ';' and tab files a comma is the decimal mark). Fields may be quoted; LF and CRLF
// line ends and a byte-order mark all work. A malformed row is an error
// naming the file, line and column; an empty field or "NaN" is a missing
// value, kept as NaN so that the detector can count it.
//
// Concurrency: functions are safe for concurrent use; a File is read-only
// once returned.
package sensorcsv
