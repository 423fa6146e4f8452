package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// inPipedTx runs fn on one connection for a transaction whose BEGIN travels with its first
// statements and whose COMMIT with its last (see beginBatch, commitBatch): a transaction that
// reads, decides in Go, then writes takes two round trips instead of one per statement plus
// two. On the hot path the round trips, not PostgreSQL's work, were most of AttemptRecord's
// time. A transaction fn leaves open (it failed, or had nothing to write) is rolled back; when
// even that fails the pool drops the connection (it never reuses one in a transaction). Like
// inTx, it runs fn again (up to three times in all) on a deadlock or a serialization failure.
func (s *Store) inPipedTx(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	return retryConflicts(func() error { return s.pipedTxOnce(ctx, fn) })
}

func (s *Store) pipedTxOnce(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	err = fn(c.Conn())
	if c.Conn().PgConn().TxStatus() != 'I' {
		_, _ = c.Exec(ctx, "rollback") // failing, it leaves the connection in a transaction: Release drops it
	}
	return err
}

// beginBatch is a batch that opens a transaction: its first query is BEGIN.
func beginBatch() *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("begin")
	return b
}

// commitBatch sends b's queries followed by COMMIT, in one round trip, and reports the first
// error. A failed query makes PostgreSQL skip the rest, COMMIT included, and the transaction
// is left for inPipedTx to roll back.
func commitBatch(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) error {
	n := b.Len()
	b.Queue("commit")
	br := conn.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return err
		}
	}
	tag, err := br.Exec()
	if err == nil && tag.String() != "COMMIT" {
		err = pgx.ErrTxCommitRollback
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}
