// SPDX-License-Identifier: MIT

// Go's sync.Pool running the scenarios of bench/ that map onto it, so that
// scripts/bench.sh can put Go's figures beside tlpool's (the go_syncpool and
// go_nopool contenders). Standard library only: built offline.
//
//	BenchmarkPair       Get+Put of a 64-byte object (bench_pool.cc's pair)
//	BenchmarkOverflow   Go's own BenchmarkPoolOverflow shape: put 100, get 100
//	BenchmarkSeedPool   the seed scenario the idiomatic Go way: a bytes.Buffer
//	                    from a sync.Pool, defer Reset and Put (bench_seed.cc)
//	BenchmarkSeedNoPool the same with new(bytes.Buffer) per request
//
// Every benchmark runs its body under b.RunParallel, so `-test.cpu 1,2`
// (GOMAXPROCS 1 and 2) gives one and two goroutines, and ns/op is wall time
// over all goroutines' operations, as google-benchmark reports threads.
package syncpool

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Request sizes of the seed scenario (bench_seed.cc's kSeedSizes).
var seedSizes = []int{64, 512, 4096}

var request = func() []byte {
	r := make([]byte, 4096)
	for i := range r {
		r[i] = byte('a' + i%26)
	}
	return r
}()

// sink keeps results observable (atomic: goroutines write it).
var sink atomic.Int64

func BenchmarkPair(b *testing.B) {
	p := sync.Pool{New: func() any { return new([64]byte) }}
	ballast := p.Get().(*[64]byte) // as in bench_pool.cc: one more object stays live
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var n int64
		for pb.Next() {
			o := p.Get().(*[64]byte)
			o[0]++
			n += int64(o[0])
			p.Put(o)
		}
		sink.Add(n)
	})
	p.Put(ballast)
}

// Go's sync/pool_test.go BenchmarkPoolOverflow puts the int 1 a hundred
// times and gets a hundred; here the objects are 64-byte arrays, taken
// once before the loop as bench_pool.cc's overflow does.
func BenchmarkOverflow(b *testing.B) {
	p := sync.Pool{New: func() any { return new([64]byte) }}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var objs [100]*[64]byte
		for i := range objs {
			objs[i] = p.Get().(*[64]byte)
		}
		for pb.Next() {
			for i := range objs {
				p.Put(objs[i])
			}
			for i := range objs {
				objs[i] = p.Get().(*[64]byte)
			}
		}
		for i := range objs {
			p.Put(objs[i])
		}
	})
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// processPool is what a Go programmer writes with sync.Pool.
func processPool(req []byte) int {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		bufPool.Put(buf)
	}()
	buf.Write(req)
	return buf.Len() + int(buf.Bytes()[buf.Len()-1])
}

// processNoPool allocates a fresh buffer per request.
func processNoPool(req []byte) int {
	buf := new(bytes.Buffer)
	buf.Write(req)
	return buf.Len() + int(buf.Bytes()[buf.Len()-1])
}

func runSeed(b *testing.B, process func([]byte) int) {
	for _, size := range seedSizes {
		req := request[:size]
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var n int64
				for pb.Next() {
					n += int64(process(req))
				}
				sink.Add(n)
			})
		})
	}
}

func BenchmarkSeedPool(b *testing.B)   { runSeed(b, processPool) }
func BenchmarkSeedNoPool(b *testing.B) { runSeed(b, processNoPool) }
