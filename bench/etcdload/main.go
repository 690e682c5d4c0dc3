// etcdload: the etcd side of bench/cluster.sh, a native gRPC (clientv3) client.
//
//	etcdload put  EPS PREFIX CLIENTS OPS SIZE MAXSEC [NKEYS]
//	    client t (its own connection to EPS[t % n]): OPS x Put PREFIX/t<t>/k<i>;
//	    with NKEYS > 0 the keys are k<i % NKEYS>, put once before the clock starts
//	etcdload get  EPS PREFIX CLIENTS OPS NKEYS MAXSEC serializable|linearizable
//	    client t: OPS x Get PREFIX/t<t>/k<i % NKEYS> (keys made by put)
//	etcdload fill EPS PREFIX CLIENTS NKEYS SIZE MAXSEC
//	    NKEYS keys PREFIX/d<i/1000>/f<i%1000>, split over CLIENTS
//	etcdload failover PID EP MAXSEC
//	    SIGKILL PID, then start one Put on EP every 5 ms (overlapping, 2 s
//	    timeout each) and print the seconds from the kill to the first success
//	etcdload leader EPS
//	    print the 0-based index in EPS of the current leader
//
// EPS: client URLs joined by ','. put/get/fill print one line:
//
//	ops=N secs=S ops_per_sec=R p50_ms=A p99_ms=B errors=E
//
// Build (offline, Debian's golang-etcd-server-dev): GO111MODULE=off
// GOPATH=<dir with src/etcdload>:/usr/share/gocode go build etcdload
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/grpclog"
	"io/ioutil"
)

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "etcdload: "+f+"\n", a...)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("bad number %q", s)
	}
	return n
}

func atof(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		die("bad number %q", s)
	}
	return f
}

func client(ep string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second})
	if err != nil {
		die("connect %s: %v", ep, err)
	}
	return c
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: etcdload put|get|fill|failover|leader ... (see the source)")
	os.Exit(2)
}

func main() {
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(ioutil.Discard, ioutil.Discard, ioutil.Discard))
	if len(os.Args) < 3 {
		usage()
	}
	switch os.Args[1] {
	case "put", "fill":
		nk := 0
		if len(os.Args) == 9 && os.Args[1] == "put" {
			nk = atoi(os.Args[8])
		} else if len(os.Args) != 8 {
			usage()
		}
		load(os.Args[1], strings.Split(os.Args[2], ","), os.Args[3], atoi(os.Args[4]), atoi(os.Args[5]),
			atoi(os.Args[6]), nk, atof(os.Args[7]), false)
	case "get":
		if len(os.Args) != 9 {
			usage()
		}
		load("get", strings.Split(os.Args[2], ","), os.Args[3], atoi(os.Args[4]), atoi(os.Args[5]),
			100, atoi(os.Args[6]), atof(os.Args[7]), os.Args[8] == "serializable")
	case "failover":
		if len(os.Args) != 5 {
			usage()
		}
		failover(atoi(os.Args[2]), os.Args[3], atof(os.Args[4]))
	case "leader":
		leader(strings.Split(os.Args[2], ","))
	default:
		usage()
	}
}

func load(mode string, eps []string, prefix string, clients, ops, size, nkeys int, maxsec float64, serial bool) {
	val := strings.Repeat("v", size)
	cs := make([]*clientv3.Client, clients)
	for t := range cs {
		cs[t] = client(eps[t%len(eps)])
	}
	if mode == "put" && nkeys > 0 { // not timed
		var pw sync.WaitGroup
		for t := 0; t < clients; t++ {
			pw.Add(1)
			go func(t int) {
				defer pw.Done()
				for k := 0; k < nkeys; k++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if _, err := cs[t].Put(ctx, fmt.Sprintf("%s/t%d/k%d", prefix, t, k), val); err != nil {
						die("put (setup): %v", err)
					}
					cancel()
				}
			}(t)
		}
		pw.Wait()
	}
	lat := make([][]time.Duration, clients)
	var errs, next int64
	var first sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(time.Duration(maxsec * float64(time.Second)))
	for t := 0; t < clients; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			c := cs[t]
			var opts []clientv3.OpOption
			if serial {
				opts = append(opts, clientv3.WithSerializable())
			}
			for i := 0; ; i++ {
				if mode != "fill" && i >= ops {
					return
				}
				if time.Now().After(deadline) {
					return
				}
				var key string
				switch mode {
				case "fill":
					k := atomic.AddInt64(&next, 1) - 1
					if k >= int64(ops) {
						return
					}
					key = fmt.Sprintf("%s/d%d/f%d", prefix, k/1000, k%1000)
				case "put":
					if nkeys > 0 {
						key = fmt.Sprintf("%s/t%d/k%d", prefix, t, i%nkeys)
					} else {
						key = fmt.Sprintf("%s/t%d/k%d", prefix, t, i)
					}
				default:
					key = fmt.Sprintf("%s/t%d/k%d", prefix, t, i%nkeys)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				t0 := time.Now()
				var err error
				if mode == "get" {
					var r *clientv3.GetResponse
					r, err = c.Get(ctx, key, opts...)
					if err == nil && (len(r.Kvs) != 1 || len(r.Kvs[0].Value) != size) {
						err = fmt.Errorf("missing or short value")
					}
				} else {
					_, err = c.Put(ctx, key, val)
				}
				dt := time.Since(t0)
				cancel()
				if err != nil {
					atomic.AddInt64(&errs, 1)
					first.Do(func() { fmt.Fprintf(os.Stderr, "etcdload: %s %s: %v\n", mode, key, err) })
					continue
				}
				lat[t] = append(lat[t], dt)
			}
		}(t)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(q*float64(len(all))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return float64(all[i].Microseconds()) / 1000
	}
	fmt.Printf("ops=%d secs=%.3f ops_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n", len(all), secs,
		float64(len(all))/secs, p(0.50), p(0.99), errs)
	for _, c := range cs {
		c.Close()
	}
	if errs > 0 {
		os.Exit(1)
	}
}

func failover(pid int, ep string, maxsec float64) {
	c := client(ep)
	// a first request so that the connection is up before the kill
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if _, err := c.Get(ctx, "bench-failover", clientv3.WithSerializable()); err != nil {
		die("get before the kill: %v", err)
	}
	cancel()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		die("kill %d: %v", pid, err)
	}
	t0 := time.Now()
	done := make(chan float64, 1)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	end := time.After(time.Duration(maxsec * float64(time.Second)))
	for {
		select {
		case s := <-done:
			fmt.Printf("failover_secs=%.3f\n", s)
			os.Exit(0)
		case <-end:
			fmt.Fprintf(os.Stderr, "etcdload: no put succeeded within %.0f s of the kill\n", maxsec)
			fmt.Println("failover_secs=fail")
			os.Exit(1)
		case <-tick.C:
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if _, err := c.Put(ctx, "bench-failover", strings.Repeat("f", 100)); err == nil {
					select {
					case done <- time.Since(t0).Seconds():
					default:
					}
				}
			}()
		}
	}
}

func leader(eps []string) {
	for i, ep := range eps {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: time.Second})
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := c.Status(ctx, ep)
		cancel()
		c.Close()
		if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
			fmt.Println(i)
			return
		}
	}
	die("no leader among %v", eps)
}
