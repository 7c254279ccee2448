package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

var _ store.Retention = (*Store)(nil)

// PruneNotifications implements store.Retention.
func (s *Store) PruneNotifications(ctx context.Context, before time.Time, limit int) (store.Pruned, error) {
	defer s.timed("prune")()
	p, err := s.prune(ctx, `DELETE FROM notifications WHERE key IN
		(SELECT key FROM notifications WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?) RETURNING LENGTH(body)`,
		TS(before), limit)
	if err != nil {
		return p, fmt.Errorf("prune notifications: %w", err)
	}
	return p, nil
}

// PruneJournalNotifications implements store.Retention.
func (s *Store) PruneJournalNotifications(ctx context.Context, before time.Time, limit int) (store.Pruned, error) {
	defer s.timed("prune")()
	// LENGTH counts characters of text on both databases; the bytes of the
	// line are counted from its text instead.
	p, err := s.prune(ctx, `DELETE FROM journal WHERE id IN
		(SELECT id FROM journal WHERE kind = ? AND at < ? ORDER BY id LIMIT ?) RETURNING message`,
		incident.KindNotification, TS(before), limit)
	if err != nil {
		return p, fmt.Errorf("prune journal: %w", err)
	}
	return p, nil
}

// prune runs one DELETE ... RETURNING of a size (a number) or a text,
// in its own transaction, and sums what it returned.
func (s *Store) prune(ctx context.Context, query string, args ...any) (store.Pruned, error) {
	var p store.Pruned
	err := s.write(ctx, func(ctx context.Context, t *tx) (err error) {
		p = store.Pruned{}
		rows, err := t.query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := rows.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		for rows.Next() {
			var v any
			if err := rows.Scan(&v); err != nil {
				return err
			}
			p.Rows++
			switch v := v.(type) {
			case int64:
				p.Bytes += v
			case string:
				p.Bytes += int64(len(v))
			case []byte:
				p.Bytes += int64(len(v))
			}
		}
		return rows.Err()
	})
	return p, err
}
