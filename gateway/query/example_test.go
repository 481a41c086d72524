package query_test

import (
	"fmt"
	"net/url"
	"time"

	"github.com/perch-gw/perch/gateway/query"
)

func ExampleParse() {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []string{
		"from=-1h&fields=temp,hum&every=5m&agg=max&format=csv",
		"items=100&agg=1h&agg_type=min", // a Thinger.io script's query
		"from=yesterday",
		"limit=10&lmit=20",
	} {
		v, _ := url.ParseQuery(q)
		p, err := query.Parse(v, now)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%d..%d %v %s/%dms limit %d %s %s\n", p.From, p.To, p.Fields, p.Agg, p.Every, p.Limit, p.Sort, p.Format)
	}
	// Output:
	// 1714561200000..9223372036854775807 [temp hum] max/300000ms limit 0 asc csv
	// 0..9223372036854775807 [] min/3600000ms limit 100 desc json
	// query: from: not a time: "yesterday" (want epoch ms, RFC 3339 or -1h)
	// query: lmit: unknown parameter
}

func ExampleAcc() {
	var acc query.Acc
	// Points of one field, out of order, in the interval starting at 12:00.
	for _, p := range []struct {
		ts int64
		v  float64
	}{{1714564860000, 21.5}, {1714564800000, 20.5}, {1714565000000, 22}} {
		fmt.Println(query.IntervalStart(p.ts, 5*60_000), p.v)
		acc.Add(p.ts, p.v)
	}
	for _, agg := range []query.Agg{query.Avg, query.Min, query.Max, query.Sum, query.Count, query.First, query.Last} {
		fmt.Println(agg, acc.Result(agg))
	}
	// Output:
	// 1714564800000 21.5
	// 1714564800000 20.5
	// 1714564800000 22
	// avg 21.333333333333332
	// min 20.5
	// max 22
	// sum 64
	// count 3
	// first 20.5
	// last 22
}
