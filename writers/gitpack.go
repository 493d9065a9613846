package writers

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// builtPack is a packfile of objects a commit created, with the index git would
// compute for it. Writing the pack, the writer knows every object's hash, offset
// and CRC, so the cache keeps the pack without reading it back: go-git's own way
// (UpdateObjectStorage) inflates and hashes every object again, a quarter of the
// CPU of a 1,000-file write.
type builtPack struct {
	data []byte
	idx  *idxfile.MemoryIndex
	sum  plumbing.Hash
}

// encodePack packs the objects hashes of st, whole (no deltas: they are new by
// construction), in that order.
func encodePack(st storer.EncodedObjectStorer, hashes []plumbing.Hash) (builtPack, error) {
	var buf bytes.Buffer
	sum := sha1.New()
	out := io.MultiWriter(&buf, sum)
	var head [12]byte
	copy(head[:4], "PACK")
	binary.BigEndian.PutUint32(head[4:], 2)
	binary.BigEndian.PutUint32(head[8:], uint32(len(hashes)))
	out.Write(head[:])
	idx := new(idxfile.Writer)
	if err := idx.OnHeader(uint32(len(hashes))); err != nil {
		return builtPack{}, err
	}
	crc := crc32.NewIEEE()
	entry := io.MultiWriter(out, crc)
	zw := zlib.NewWriter(entry)
	for _, h := range hashes {
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return builtPack{}, fmt.Errorf("encode packfile: %w", err)
		}
		pos := buf.Len()
		crc.Reset()
		entry.Write(objectHeader(obj.Type(), obj.Size()))
		zw.Reset(entry)
		r, err := obj.Reader()
		if err != nil {
			return builtPack{}, fmt.Errorf("encode packfile: %w", err)
		}
		_, err = io.Copy(zw, r)
		r.Close()
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			return builtPack{}, fmt.Errorf("encode packfile: %w", err)
		}
		idx.Add(h, uint64(pos), crc.Sum32())
	}
	var p builtPack
	copy(p.sum[:], sum.Sum(nil))
	buf.Write(p.sum[:])
	if err := idx.OnFooter(p.sum); err != nil {
		return builtPack{}, err
	}
	var err error
	if p.idx, err = idx.Index(); err != nil {
		return builtPack{}, err
	}
	p.data = buf.Bytes()
	return p, nil
}

// objectHeader is a pack entry's header: the type, and the size in a varint whose
// first byte holds 4 bits of it.
func objectHeader(t plumbing.ObjectType, size int64) []byte {
	b := []byte{byte(t)<<4 | byte(size&0x0f)}
	for size >>= 4; size > 0; size >>= 7 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
	}
	return b
}

// writeTo puts the pack and its index in the pack directory of the bare
// repository in dir: the index first, each through a temporary file, so the pack
// is never there without it.
func (p builtPack) writeTo(dir string) error {
	packDir := filepath.Join(dir, "objects", "pack")
	if err := os.MkdirAll(packDir, 0o700); err != nil {
		return err
	}
	var idx bytes.Buffer
	if _, err := idxfile.NewEncoder(&idx).Encode(p.idx); err != nil {
		return fmt.Errorf("encode pack index: %w", err)
	}
	base := filepath.Join(packDir, "pack-"+p.sum.String())
	for _, f := range []struct {
		path string
		data []byte
	}{{base + ".idx", idx.Bytes()}, {base + ".pack", p.data}} {
		tmp, err := os.CreateTemp(packDir, "tmp_pack_")
		if err != nil {
			return err
		}
		_, err = tmp.Write(f.data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), f.path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}
