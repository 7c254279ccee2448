package service

import (
	"context"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Preferences are the saved preferences of the caller: a named user's (store.Preferences),
// none for a credential or when the store keeps none.
func (s *Service) Preferences(ctx context.Context, c Caller) (store.UserPreferences, error) {
	ps, ok := s.Store.(store.Preferences)
	if !ok || !c.Person || c.Name == "" {
		return store.UserPreferences{}, nil
	}
	return ps.UserPreferences(ctx, c.Name)
}

// SavesPreferences reports whether the caller's preferences are saved in the store (a named
// user's, when the store keeps them); others live in the browser's cookies only.
func (s *Service) SavesPreferences(c Caller) bool {
	_, ok := s.Store.(store.Preferences)
	return ok && c.Person && c.Name != ""
}

// SetPreferences saves a named user's preferences (nothing for others: see SavesPreferences).
func (s *Service) SetPreferences(ctx context.Context, c Caller, p store.UserPreferences) error {
	ps, ok := s.Store.(store.Preferences)
	if !ok || !c.Person || c.Name == "" {
		return nil
	}
	return ps.SetUserPreferences(ctx, c.Name, p, s.now())
}
