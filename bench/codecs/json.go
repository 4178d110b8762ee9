package codecs

import (
	"math/rand/v2"
	"strconv"
)

// jsonPayload writes clickstream events: many concurrent sessions, each with
// a stable user, device and address, emitting page views, clicks, searches
// and purchases against one shop. Field names repeat in every record and
// values come from realistic, skewed vocabularies, which is what gives real
// event streams their compressibility; nothing is repeated verbatim.
type jsonPayload struct {
	rng      *rand.Rand
	size     int // pad events with props up to this many bytes; 0 = natural size
	clock    int64
	sessions []session
	last     int // session of the last event, for Key
}

type session struct {
	id      [32]byte // hex
	user    int
	country int // index into countries
	device  string
	os      string
	browser string
	ip      [4]byte
	screen  [2]int
	utm     int   // index into campaigns
	exps    []int // experiment ids the session is enrolled in, variant = id%3
	viewed  []int // recently viewed product ids, newest last
	page    int   // events so far
}

// Vocabularies. Functions rather than package variables: no mutable state.
func eventTypes() []string {
	return []string{"page_view", "page_view", "page_view", "page_view", "page_view", "page_view",
		"click", "click", "click", "search", "add_to_cart", "purchase", "scroll", "video_play"}
}

// countries pairs each country with its locale and time zone.
func countries() [][3]string {
	return [][3]string{
		{"US", "en-US", "America/New_York"}, {"US", "en-US", "America/Chicago"}, {"US", "en-US", "America/Los_Angeles"},
		{"DE", "de-DE", "Europe/Berlin"}, {"GB", "en-GB", "Europe/London"}, {"FR", "fr-FR", "Europe/Paris"},
		{"IN", "en-IN", "Asia/Kolkata"}, {"BR", "pt-BR", "America/Sao_Paulo"}, {"JP", "ja-JP", "Asia/Tokyo"},
		{"NL", "nl-NL", "Europe/Amsterdam"}, {"CA", "en-CA", "America/Toronto"}, {"ES", "es-ES", "Europe/Madrid"},
		{"IT", "it-IT", "Europe/Rome"}, {"PL", "pl-PL", "Europe/Warsaw"}, {"SE", "sv-SE", "Europe/Stockholm"},
	}
}

func campaigns() [][3]string {
	return [][3]string{
		{"", "", ""}, {"", "", ""}, {"google", "cpc", "autumn_sale_2024"}, {"google", "organic", ""},
		{"newsletter", "email", "weekly_digest_43"}, {"facebook", "paid_social", "retargeting_q4"},
		{"instagram", "paid_social", "new_collection"}, {"affiliate", "referral", "partner_1207"},
	}
}

func screens() [][2]int {
	return [][2]int{{390, 844}, {393, 873}, {412, 915}, {1920, 1080}, {1536, 864}, {1440, 900}, {2560, 1440}, {820, 1180}}
}

func devices() []string { return []string{"mobile", "mobile", "desktop", "desktop", "tablet"} }

func oses() []string {
	return []string{"Android 14", "Android 13", "iOS 17.5", "iOS 18.1", "Windows 11", "macOS 14.6", "Linux", "ChromeOS"}
}

func browsers() []string {
	return []string{"Chrome 126.0.6478", "Chrome 127.0.6533", "Safari 17.5", "Firefox 128.0", "Edge 126.0.2592", "Samsung Internet 25.0"}
}

func categories() []string {
	return []string{"shoes", "jackets", "shirts", "bags", "watches", "electronics", "books", "garden", "toys", "kitchen", "sports", "beauty"}
}

func referrers() []string {
	return []string{"https://www.google.com/", "https://www.google.com/", "", "", "https://www.bing.com/",
		"https://www.facebook.com/", "https://t.co/", "https://news.ycombinator.com/", "https://duckduckgo.com/"}
}

func words() []string {
	return []string{"red", "blue", "running", "leather", "wireless", "organic", "kids", "summer", "winter", "sale",
		"vintage", "waterproof", "large", "small", "premium", "eco", "classic", "sport", "travel", "gift"}
}

func elements() []string {
	return []string{"button#add-to-cart", "a.product-card", "nav#main-menu", "button#checkout", "img.hero", "a.breadcrumb", "input#search"}
}

func newJSONPayload(size int, seed uint64) *jsonPayload {
	p := &jsonPayload{
		rng:      rand.New(rand.NewPCG(seed, 4)),
		size:     size,
		clock:    1_730_000_000_000, // 2024-10-27, a fixed start so runs repeat
		sessions: make([]session, 512),
	}
	for i := range p.sessions {
		p.sessions[i] = p.newSession()
	}
	return p
}

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

func (p *jsonPayload) newSession() session {
	var s session
	const hex = "0123456789abcdef"
	for i := range s.id {
		s.id[i] = hex[p.rng.IntN(16)]
	}
	// Zipf-like users: a few heavy users, a long tail.
	s.user = int(p.rng.ExpFloat64()*20000) % 1_000_000
	s.country = p.rng.IntN(len(countries()))
	s.screen = screens()[p.rng.IntN(len(screens()))]
	s.utm = p.rng.IntN(len(campaigns()))
	for range 2 + p.rng.IntN(6) {
		s.exps = append(s.exps, p.rng.IntN(120))
	}
	s.device = pick(p.rng, devices())
	s.os = pick(p.rng, oses())
	s.browser = pick(p.rng, browsers())
	s.ip = [4]byte{byte(p.rng.IntN(223) + 1), byte(p.rng.IntN(256)), byte(p.rng.IntN(256)), byte(p.rng.IntN(254) + 1)}
	return s
}

func (p *jsonPayload) Key(dst []byte) []byte { return append(dst, p.sessions[p.last].id[:]...) }

func appendStr(dst []byte, key, val string) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `":"`...)
	dst = append(dst, val...)
	return append(dst, `",`...)
}

func appendInt(dst []byte, key string, v int64) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, ',')
}

func (p *jsonPayload) Next(dst []byte) []byte {
	r := p.rng
	p.clock += int64(r.ExpFloat64() * 3) // a few events per millisecond
	p.last = r.IntN(len(p.sessions))
	if r.IntN(40) == 0 { // sessions end and new ones start
		p.sessions[p.last] = p.newSession()
	}
	s := &p.sessions[p.last]
	s.page++
	start := len(dst)
	typ := pick(r, eventTypes())
	cat := pick(r, categories())
	product := 10000 + int(r.ExpFloat64()*3000)

	dst = append(dst, '{')
	dst = append(dst, `"event_id":"`...)
	dst = strconv.AppendUint(dst, r.Uint64(), 16)
	dst = append(dst, `",`...)
	dst = appendStr(dst, "type", typ)
	dst = appendInt(dst, "ts", p.clock)
	dst = appendInt(dst, "received_ts", p.clock+int64(20+r.IntN(400)))
	dst = appendStr(dst, "session_id", string(s.id[:]))
	dst = appendInt(dst, "seq", int64(s.page))
	dst = append(dst, `"user":{"id":"u_`...)
	dst = strconv.AppendInt(dst, int64(s.user), 10)
	dst = append(dst, `",`...)
	dst = appendStr(dst, "country", countries()[s.country][0])
	dst = appendStr(dst, "device", s.device)
	dst = appendStr(dst, "os", s.os)
	dst = appendStr(dst, "browser", s.browser)
	dst = dst[:len(dst)-1]
	dst = append(dst, `},"url":"https://shop.example.com/`...)
	switch typ {
	case "search":
		dst = append(dst, "search?q="...)
		dst = append(dst, pick(r, words())...)
		dst = append(dst, '+')
		dst = append(dst, cat...)
	case "purchase", "add_to_cart":
		dst = append(dst, "checkout/cart"...)
	default:
		dst = append(dst, cat...)
		dst = append(dst, "/p/"...)
		dst = strconv.AppendInt(dst, int64(product), 10)
	}
	dst = append(dst, `",`...)
	dst = appendStr(dst, "referrer", pick(r, referrers()))
	dst = append(dst, `"ip":"`...)
	for i, b := range s.ip {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendInt(dst, int64(b), 10)
	}
	dst = append(dst, `",`...)
	dst = append(dst, `"user_agent":"Mozilla/5.0 (`...)
	dst = append(dst, s.os...)
	dst = append(dst, `) AppleWebKit/537.36 (KHTML, like Gecko) `...)
	dst = append(dst, s.browser...)
	dst = append(dst, `",`...)
	dst = append(dst, `"props":{`...)
	dst = appendStr(dst, "category", cat)
	dst = appendInt(dst, "product_id", int64(product))
	switch typ {
	case "click":
		dst = appendStr(dst, "element", pick(r, elements()))
		dst = appendInt(dst, "x", int64(r.IntN(1920)))
		dst = appendInt(dst, "y", int64(r.IntN(1080)))
	case "add_to_cart", "purchase":
		dst = appendInt(dst, "quantity", int64(1+r.IntN(3)))
		dst = append(dst, `"price":`...)
		dst = strconv.AppendFloat(dst, float64(500+r.IntN(20000))/100, 'f', 2, 64)
		dst = append(dst, ',')
		dst = appendStr(dst, "currency", "EUR")
	case "scroll":
		dst = appendInt(dst, "depth_pct", int64(r.IntN(101)))
	}
	dst = appendInt(dst, "load_ms", int64(80+r.ExpFloat64()*300))
	dst = dst[:len(dst)-1]
	c := countries()[s.country]
	dst = append(dst, `},"context":{`...)
	dst = appendStr(dst, "locale", c[1])
	dst = appendStr(dst, "timezone", c[2])
	dst = append(dst, `"screen":{"w":`...)
	dst = strconv.AppendInt(dst, int64(s.screen[0]), 10)
	dst = append(dst, `,"h":`...)
	dst = strconv.AppendInt(dst, int64(s.screen[1]), 10)
	dst = append(dst, `},`...)
	dst = appendStr(dst, "app_version", "web-2024.10."+strconv.Itoa(s.user%7))
	dst = appendStr(dst, "library", "analytics.js 4.12.1")
	if u := campaigns()[s.utm]; u[0] != "" {
		dst = append(dst, `"utm":{`...)
		dst = appendStr(dst, "source", u[0])
		dst = appendStr(dst, "medium", u[1])
		if u[2] != "" {
			dst = appendStr(dst, "campaign", u[2])
		}
		dst = dst[:len(dst)-1]
		dst = append(dst, `},`...)
	}
	dst = append(dst, `"experiments":{`...)
	for _, e := range s.exps {
		dst = append(dst, `"exp_`...)
		dst = strconv.AppendInt(dst, int64(e), 10)
		dst = append(dst, `":"`...)
		dst = append(dst, [3]string{"control", "variant_a", "variant_b"}[e%3]...)
		dst = append(dst, `",`...)
	}
	dst = dst[:len(dst)-1]
	dst = append(dst, `}},`...)
	// Pad toward the requested size with the session's recently viewed
	// products, as real events grow: more of the same kind of data, not
	// filler bytes.
	dst = append(dst, `"recently_viewed":[`...)
	if typ == "page_view" {
		s.viewed = append(s.viewed, product)
	}
	n := 0
	for i := len(s.viewed) - 1; i >= 0 && n < 200 && (p.size == 0 && n < 5 || len(dst)-start+10 < p.size); i-- {
		dst = strconv.AppendInt(dst, int64(s.viewed[i]), 10)
		dst = append(dst, ',')
		n++
	}
	for ; p.size > 0 && len(dst)-start+10 < p.size; n++ {
		// A new session has seen little; fill from the shop's popular
		// products instead.
		dst = strconv.AppendInt(dst, int64(10000+int(r.ExpFloat64()*3000)), 10)
		dst = append(dst, ',')
	}
	if n > 0 {
		dst = dst[:len(dst)-1]
	}
	return append(dst, "]}"...)
}
