package flame

import (
	"bufio"
	"cmp"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// SVGOptions shape an SVG flame graph.
type SVGOptions struct {
	Title      string
	Subtitle   string  // e.g. the trace and its loss
	Width      int     // pixels; default 1200
	MinWidth   float64 // frames narrower than this many pixels are left out; default 0.1
	Standalone bool    // write an XML document (else an <svg> element for embedding in HTML)
}

// node is one frame of the drawn tree. Children are looked up as the last
// child only: stacks are added in frame order (compareFolded), so a frame's
// children arrive sorted and grouped, and no node needs an index of them (a
// map per node of a deep tree took hundreds of bytes per frame).
type node struct {
	name     string
	a, b     float64 // weight (b); for diffs a = before, b = after
	w        float64 // drawn width weight
	children []*node
}

func (n *node) child(name string) *node {
	if k := len(n.children); k > 0 && n.children[k-1].name == name {
		return n.children[k-1]
	}
	c := &node{name: name}
	n.children = append(n.children, c)
	return c
}

// add adds a folded stack (frames joined by ';', root first); stacks come
// in the order of compareFolded.
func (n *node) add(folded string, a, b float64) {
	w := math.Max(a, b)
	n.a += a
	n.b += b
	n.w += w
	for rest, more := folded, true; more; {
		var f string
		f, rest, more = strings.Cut(rest, ";")
		n = n.child(f)
		n.a += a
		n.b += b
		n.w += w
	}
}

// compareFolded orders folded stacks frame by frame, as strings.Compare
// orders frame names, a stack before those it is a prefix of: the order of
// a depth-first walk of the tree they make. Plain string order is not that
// ("a-b;y" sorts between "a" and "a;x").
func compareFolded(x, y string) int {
	n := min(len(x), len(y))
	i := 0
	for i < n && x[i] == y[i] {
		i++
	}
	switch {
	case i == n:
		return cmp.Compare(len(x), len(y))
	case x[i] == ';':
		return -1
	case y[i] == ';':
		return 1
	}
	return cmp.Compare(x[i], y[i])
}

func (n *node) sortChildren() {
	slices.SortFunc(n.children, func(x, y *node) int { return strings.Compare(x.name, y.name) })
	for _, c := range n.children {
		c.sortChildren()
	}
}

func (n *node) depth() int {
	d := 0
	for _, c := range n.children {
		d = max(d, c.depth()+1)
	}
	return d
}

// WriteSVG writes p as an interactive flame graph (search, click to zoom,
// tooltips) with all CSS and JavaScript inline.
func WriteSVG(w io.Writer, p *Profile, o SVGOptions) error {
	return writeSVG(w, profileTree(p), o, false, p.Unit)
}

// profileTree is p's stacks as a tree of frames under "all".
func profileTree(p *Profile) *node {
	root := &node{name: "all"}
	stacks := p.Stacks()
	slices.SortFunc(stacks, func(x, y Stack) int { return compareFolded(x.Folded, y.Folded) })
	for _, s := range stacks {
		root.add(s.Folded, 0, float64(s.Value))
	}
	return root
}

// WriteDiffSVG writes a differential flame graph of before → after. Both
// profiles are normalized to shares of their totals, so traces of different
// lengths compare. A frame's width is the larger of its two shares; red means
// it grew, blue that it shrank, the deeper the color the larger the change.
func WriteDiffSVG(w io.Writer, before, after *Profile, o SVGOptions) error {
	root := &node{name: "all"}
	keys := map[string]struct{}{}
	for k := range before.stacks {
		keys[k] = struct{}{}
	}
	for k := range after.stacks {
		keys[k] = struct{}{}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, compareFolded)
	for _, k := range sorted {
		root.add(k, share(before.stacks[k], before.Total), share(after.stacks[k], after.Total))
	}
	return writeSVG(w, root, o, true, "% of samples")
}

func share(v, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(v) / float64(total)
}

const (
	frameH   = 16
	fontSize = 12
	pad      = 10
	topH     = 52
	bottomH  = 30
)

func writeSVG(out io.Writer, root *node, o SVGOptions, diff bool, unit string) error {
	if o.Width <= 0 {
		o.Width = 1200
	}
	if o.MinWidth <= 0 {
		o.MinWidth = 0.1
	}
	root.sortChildren()
	depth := root.depth()
	height := topH + (depth+1)*frameH + bottomH
	fw := float64(o.Width - 2*pad)
	w := bufio.NewWriter(out)
	if o.Standalone {
		w.WriteString(`<?xml version="1.0" standalone="no"?>` + "\n")
	}
	fmt.Fprintf(w, `<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" class="kpcap-flame" data-width="%d">`+"\n",
		o.Width, height, o.Width, height, o.Width)
	w.WriteString(`<style>.kpcap-flame text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}` +
		`.kpcap-flame g.f:hover rect{stroke:#000;stroke-width:0.5}.kpcap-flame g.f{cursor:pointer}` +
		`.kpcap-flame .btn{cursor:pointer;fill:#0645ad}.kpcap-flame .ttl{font-size:17px}</style>` + "\n")
	fmt.Fprintf(w, `<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f8"/>`+"\n", o.Width, height)
	fmt.Fprintf(w, `<text class="ttl" x="%d" y="22" text-anchor="middle">%s</text>`+"\n", o.Width/2, esc(o.Title))
	fmt.Fprintf(w, `<text x="%d" y="40" text-anchor="middle">%s</text>`+"\n", o.Width/2, esc(o.Subtitle))
	fmt.Fprintf(w, `<text class="btn reset" x="%d" y="22" style="display:none">Reset Zoom</text>`+"\n", pad)
	fmt.Fprintf(w, `<text class="btn search" x="%d" y="22" text-anchor="end">Search</text>`+"\n", o.Width-pad)
	fmt.Fprintf(w, `<text class="matched" x="%d" y="%d" text-anchor="end"></text>`+"\n", o.Width-pad, height-10)
	fmt.Fprintf(w, `<text class="details" x="%d" y="%d"> </text>`+"\n", pad, height-10)

	maxDelta := 0.0
	if diff {
		var walk func(n *node)
		walk = func(n *node) {
			maxDelta = math.Max(maxDelta, math.Abs(n.b-n.a))
			for _, c := range n.children {
				walk(c)
			}
		}
		for _, c := range root.children {
			walk(c)
		}
	}
	var emit func(n *node, x float64, d int)
	emit = func(n *node, x float64, d int) {
		if root.w <= 0 {
			return
		}
		frac := n.w / root.w
		if frac*fw < o.MinWidth {
			return
		}
		px := pad + x/root.w*fw
		pw := frac * fw
		y := height - bottomH - (d+1)*frameH
		var fill, tip string
		if diff {
			fill = diffColor(n.b-n.a, maxDelta)
			tip = fmt.Sprintf("%s: %.3f%% → %.3f%% (%+.3f points)", n.name, n.a, n.b, n.b-n.a)
		} else {
			fill = hotColor(n.name)
			tip = fmt.Sprintf("%s (%s %s, %.2f%%)", n.name, fmtCount(n.b), unit, 100*n.b/root.b)
		}
		// The label is cut from the visible name, as the script cuts data-n on zoom.
		name := visible(n.name)
		fmt.Fprintf(w, `<g class="f" data-x="%.8f" data-w="%.8f" data-d="%d" data-n="%s"><title>%s</title>`,
			x/root.w, frac, d, esc(name), esc(tip))
		fmt.Fprintf(w, `<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s" rx="2"/>`, px, y, math.Max(0, pw-0.5), frameH-1, fill)
		fmt.Fprintf(w, `<text x="%.2f" y="%d">%s</text></g>`+"\n", px+3, y+frameH-4, esc(fitLabel(name, pw)))
		cx := x
		for _, c := range n.children {
			emit(c, cx, d+1)
			cx += c.w
		}
	}
	emit(root, 0, 0)
	w.WriteString("<script><![CDATA[\n" + flameJS + "\n]]></script>\n</svg>\n")
	return w.Flush()
}

func fmtCount(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// fitLabel truncates a frame name to the characters that fit in px pixels
// (the same rule as the inline script).
func fitLabel(name string, px float64) string {
	c := int((px - 6) / (fontSize * 0.6))
	if c < 3 {
		return ""
	}
	r := []rune(name)
	if len(r) <= c {
		return name
	}
	return string(r[:c-2]) + ".."
}

// esc makes s safe as XML character data or an attribute value: see visible,
// then the markup characters (< > & ' ") as entities.
func esc(s string) string { return html.EscapeString(visible(s)) }

// visible spells out what XML 1.0 cannot hold at all, not even as a
// character reference: control bytes, as kpcap replay prints them (\n, \t,
// \x01), bytes of invalid UTF-8 (\xff) and the noncharacters U+FFFE and
// U+FFFF (\ufffe). Titles and frame names come from file names and traced
// programs: a hostile one must neither break the document nor vanish.
func visible(s string) string {
	clean := true
	for _, r := range s {
		if !xmlChar(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !xmlChar(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// xmlChar reports whether r is a printable character of XML 1.0: its Char
// production without tab and line breaks (an attribute turns them into
// spaces) and DEL.
func xmlChar(r rune) bool {
	return r >= 0x20 && r != 0x7f && r <= 0x10ffff && !(r >= 0xd800 && r <= 0xdfff) && r != 0xfffe && r != 0xffff
}

// hotColor is flamegraph.pl's "hot" palette, seeded by the name so a
// function keeps its color across graphs.
func hotColor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	v1 := float64(v&0xff) / 255
	v2 := float64(v>>8&0xff) / 255
	v3 := float64(v>>16&0xff) / 255
	return fmt.Sprintf("rgb(%d,%d,%d)", 205+int(50*v3), int(230*v1), int(55*v2))
}

// diffColor is red for growth and blue for shrinkage, saturating at the
// largest change in the graph; unchanged frames are light grey.
func diffColor(delta, maxDelta float64) string {
	if maxDelta <= 0 || delta == 0 {
		return "rgb(225,225,225)"
	}
	r := math.Min(1, math.Abs(delta)/maxDelta) // linear, as difffolded: small noise stays pale
	c := int(225 - 175*r)
	if delta > 0 {
		return fmt.Sprintf("rgb(255,%d,%d)", c, c)
	}
	return fmt.Sprintf("rgb(%d,%d,255)", c, c)
}

// flameJS makes the graph interactive: hover details, click to zoom, search.
// It finds its own <svg>, so several graphs can share a page.
const flameJS = `(function(){
var me=document.currentScript, svg=me.closest?me.closest('svg'):me.parentNode;
var W=+svg.getAttribute('data-width'), PAD=10, FW=W-2*PAD;
var fs=Array.prototype.slice.call(svg.querySelectorAll('g.f'));
var det=svg.querySelector('.details'), rst=svg.querySelector('.reset'), srch=svg.querySelector('.search'), mt=svg.querySelector('.matched');
function num(g,k){return +g.getAttribute('data-'+k);}
function fit(n,px){var c=Math.floor((px-6)/7.2);if(c<3)return '';return n.length<=c?n:n.slice(0,c-2)+'..';}
function place(g,fx,fw){var r=g.querySelector('rect'),t=g.querySelector('text'),px=PAD+fx*FW,pw=fw*FW;
 r.setAttribute('x',px.toFixed(2));r.setAttribute('width',Math.max(0,pw-0.5).toFixed(2));
 t.setAttribute('x',(px+3).toFixed(2));t.textContent=fit(g.getAttribute('data-n'),pw);}
function zoom(z){var x0=num(z,'x'),w0=num(z,'w'),d0=num(z,'d'),e=1e-9;
 fs.forEach(function(g){var x=num(g,'x'),w=num(g,'w'),d=num(g,'d');
  if(d>=d0&&x>=x0-e&&x+w<=x0+w0+e){g.style.display='';g.style.opacity='';place(g,(x-x0)/w0,w/w0);}
  else if(d<d0&&x<=x0+e&&x+w>=x0+w0-e){g.style.display='';g.style.opacity='0.6';place(g,0,1);}
  else{g.style.display='none';}});
 rst.style.display=(d0>0||w0<1)?'':'none';}
function unzoom(){fs.forEach(function(g){g.style.display='';g.style.opacity='';place(g,num(g,'x'),num(g,'w'));});rst.style.display='none';}
function search(re){var iv=[];fs.forEach(function(g){var r=g.querySelector('rect');
  if(!r.hasAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));
  if(re&&re.test(g.getAttribute('data-n'))){r.setAttribute('fill','rgb(230,0,230)');iv.push([num(g,'x'),num(g,'x')+num(g,'w')]);}
  else{r.setAttribute('fill',r.getAttribute('data-fill'));}});
 iv.sort(function(a,b){return a[0]-b[0];});var tot=0,end=-1;
 iv.forEach(function(v){if(v[0]>=end){tot+=v[1]-v[0];end=v[1];}else if(v[1]>end){tot+=v[1]-end;end=v[1];}});
 mt.textContent=re?('Matched: '+(100*tot).toFixed(1)+'%'):'';srch.textContent=re?'Reset Search':'Search';}
fs.forEach(function(g){
 g.addEventListener('mouseover',function(){det.textContent=g.querySelector('title').textContent;});
 g.addEventListener('mouseout',function(){det.textContent=' ';});
 g.addEventListener('click',function(){zoom(g);});});
rst.addEventListener('click',unzoom);
srch.addEventListener('click',function(){
 if(srch.textContent!=='Search'){search(null);return;}
 var t=window.prompt('Search frames (regular expression)','');if(!t)return;
 try{search(new RegExp(t));}catch(err){mt.textContent='bad expression';}});
svg.kpcapSearch=function(t){search(t?new RegExp(t):null);};
svg.kpcapZoom=function(i){zoom(fs[i]);};
svg.setAttribute('data-ready','1');
})();`
