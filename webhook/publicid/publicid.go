// Package publicid maps the store's sequential ids (incidents, journal lines, dead letters) to
// the ids the API, the page and the links in tickets show. The store's ids count every
// tenant's rows, so a tenant comparing two of its own incident numbers would learn how many
// incidents the others had in between; public ids are a keyed permutation of the ids below
// 2^52 instead: still positive integers (exact JSON numbers, even in JavaScript), unique,
// stable for the life of the database (the key lives in it), and without order.
package publicid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Kind separates the id spaces: the same number means different things in each.
type Kind byte

// Kinds of ids.
const (
	Incident Kind = iota + 1
	Journal
	DeadLetter
)

const (
	half   = 26
	bits   = 2 * half
	mask   = 1<<half - 1
	domain = int64(1) << bits
	rounds = 8
)

// Codec maps ids both ways. A nil *Codec maps every id to itself.
type Codec struct {
	block cipher.Block
}

// New returns a codec keyed by key (any length; an HMAC of it keys AES-128).
func New(key []byte) (*Codec, error) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("kizashi public ids"))
	b, err := aes.NewCipher(m.Sum(nil)[:16])
	if err != nil {
		return nil, fmt.Errorf("public id cipher: %w", err)
	}
	return &Codec{block: b}, nil
}

// round is the Feistel round function; buf is scratch space.
func (c *Codec) round(buf []byte, k Kind, i int, r uint32) uint32 {
	in, out := buf[:aes.BlockSize], buf[aes.BlockSize:]
	clear(in)
	in[0], in[1] = byte(k), byte(i)
	binary.BigEndian.PutUint32(in[2:], r)
	c.block.Encrypt(out, in)
	return binary.BigEndian.Uint32(out) & mask
}

func (c *Codec) permute(k Kind, x uint64) uint64 {
	buf := make([]byte, 2*aes.BlockSize)
	l, r := uint32(x>>half), uint32(x&mask)
	for i := range rounds {
		l, r = r, l^c.round(buf, k, i, r)
	}
	return uint64(l)<<half | uint64(r)
}

func (c *Codec) unpermute(k Kind, y uint64) uint64 {
	buf := make([]byte, 2*aes.BlockSize)
	l, r := uint32(y>>half), uint32(y&mask)
	for i := rounds - 1; i >= 0; i-- {
		l, r = r^c.round(buf, k, i, l), l
	}
	return uint64(l)<<half | uint64(r)
}

// Public returns the public id of a store id. Ids below 1 (none) and from 2^52 on are
// returned as they are; the permutation never maps an id to 0 (it walks on past it).
func (c *Codec) Public(k Kind, id int64) int64 {
	if c == nil || id < 1 || id >= domain {
		return id
	}
	y := c.permute(k, uint64(id))
	for y == 0 {
		y = c.permute(k, y)
	}
	return int64(y)
}

// Name is how people read the public id of a store id in text (journal lines, messages):
// "#" and the number.
func (c *Codec) Name(k Kind, id int64) string {
	return "#" + strconv.FormatInt(c.Public(k, id), 10)
}

// Private returns the store id of a public id; false for ids that no store id maps to (0 and
// negative ones).
func (c *Codec) Private(k Kind, pub int64) (int64, bool) {
	if pub < 1 {
		return 0, false
	}
	if c == nil || pub >= domain {
		return pub, true
	}
	x := c.unpermute(k, uint64(pub))
	for x == 0 {
		x = c.unpermute(k, x)
	}
	return int64(x), true
}
