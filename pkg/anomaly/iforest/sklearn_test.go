package iforest

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// Tests against numbers scikit-learn 1.2.1 and numpy produced; the
// fixtures and the script that wrote them are in testdata/
// (gen_iforest_fixtures.py).

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

type formulasFixture struct {
	C []struct {
		N int     `json:"n"`
		C float64 `json:"c"`
	} `json:"c"`
	Arrays      map[string][]float64 `json:"arrays"`
	Percentiles []struct {
		Array string  `json:"array"`
		Q     float64 `json:"q"`
		Want  float64 `json:"want"`
	} `json:"percentiles"`
}

func TestAveragePathLengthMatchesSklearn(t *testing.T) {
	var fx formulasFixture
	readJSON(t, "iforest_formulas.json", &fx)
	if len(fx.C) == 0 {
		t.Fatal("no c(n) cases in fixture")
	}
	for _, tc := range fx.C {
		got := AveragePathLength(tc.N)
		// numpy's log and Go's may differ in the last bit.
		if math.Abs(got-tc.C) > 1e-15*math.Max(1, math.Abs(tc.C)) {
			t.Errorf("c(%d) = %.17g, sklearn %.17g", tc.N, got, tc.C)
		}
	}
}

func TestPercentileLinearMatchesNumpy(t *testing.T) {
	var fx formulasFixture
	readJSON(t, "iforest_formulas.json", &fx)
	if len(fx.Percentiles) == 0 {
		t.Fatal("no percentile cases in fixture")
	}
	for _, tc := range fx.Percentiles {
		a := append([]float64(nil), fx.Arrays[tc.Array]...)
		if len(a) == 0 {
			t.Fatalf("fixture array %q missing", tc.Array)
		}
		if got := percentileLinear(a, tc.Q); got != tc.Want {
			t.Errorf("percentile(%s, %v) = %.17g, numpy %.17g", tc.Array, tc.Q, got, tc.Want)
		}
	}
}

type sklearnTree struct {
	Features      []int     `json:"features"`
	ChildrenLeft  []int     `json:"children_left"`
	ChildrenRight []int     `json:"children_right"`
	Feature       []int     `json:"feature"`
	Threshold     []float64 `json:"threshold"`
	NNodeSamples  []int     `json:"n_node_samples"`
}

type sklearnModel struct {
	Params struct {
		Contamination any `json:"contamination"`
	} `json:"params"`
	MaxSamples        int           `json:"max_samples_"`
	Offset            float64       `json:"offset_"`
	Trees             []sklearnTree `json:"trees"`
	XTrain            [][]float64   `json:"x_train"`
	XProbe            [][]float64   `json:"x_probe"`
	ScoreSamples      []float64     `json:"score_samples"`
	DecisionFunction  []float64     `json:"decision_function"`
	Predict           []int         `json:"predict"`
	TrainScoreSamples []float64     `json:"train_score_samples"`
}

// forestFromSklearn rebuilds a fitted scikit-learn forest in our layout:
// children made adjacent, features mapped through the tree's column
// subset, thresholds rounded down to float32 and leaves given their path
// length, exactly as Fit lays out its own trees.
func forestFromSklearn(t *testing.T, m sklearnModel, cols int) *Forest {
	t.Helper()
	trees := make([]tree, len(m.Trees))
	for ti, st := range m.Trees {
		var tr tree
		tr.nodes = []treeNode{{}}
		tr.pathLen = []float64{0}
		var place func(sk, at, depth int)
		place = func(sk, at, depth int) {
			if st.ChildrenLeft[sk] == -1 {
				tr.nodes[at] = treeNode{thr: float32(math.Inf(1))}
				tr.pathLen[at] = leafPathLength(depth, st.NNodeSamples[sk])
				tr.depth = max(tr.depth, depth)
				return
			}
			left := len(tr.nodes)
			tr.nodes = append(tr.nodes, treeNode{}, treeNode{})
			tr.pathLen = append(tr.pathLen, 0, 0)
			tr.nodes[at] = treeNode{
				thr:  float32Below(st.Threshold[sk]),
				feat: int32(st.Features[st.Feature[sk]]),
				left: int32(left - at),
			}
			place(st.ChildrenLeft[sk], left, depth+1)
			place(st.ChildrenRight[sk], left+1, depth+1)
		}
		place(0, 0, 0)
		trees[ti] = tr
	}
	f := &Forest{cols: cols, maxSamples: m.MaxSamples}
	f.assemble(trees)
	return f
}

func flatten(rows [][]float64) []float64 {
	var x []float64
	for _, r := range rows {
		x = append(x, r...)
	}
	return x
}

// TestSklearnTreesReproduced loads forests scikit-learn fitted, node by
// node, and checks that our scoring gives scikit-learn's score_samples,
// offset_ (numpy percentile of the training scores), decision_function
// and predict. This pins the path length (edges + c(leaf size)), the
// normalisation by c(max_samples), float32 inputs, the `<=` rule (probe
// rows sit exactly on thresholds and one float32 step above) and the
// per-tree column subsets of max_features.
func TestSklearnTreesReproduced(t *testing.T) {
	var fx struct {
		Models map[string]sklearnModel `json:"models"`
	}
	readJSON(t, "iforest_sklearn_trees.json", &fx)
	if len(fx.Models) != 3 {
		t.Fatalf("want 3 models in fixture, got %d", len(fx.Models))
	}
	for name, m := range fx.Models {
		t.Run(name, func(t *testing.T) {
			cols := len(m.XTrain[0])
			f := forestFromSklearn(t, m, cols)

			train := flatten(m.XTrain)
			trainScores := make([]float64, len(m.XTrain))
			if err := f.ScoreSamples(train, cols, trainScores); err != nil {
				t.Fatal(err)
			}
			for i, want := range m.TrainScoreSamples {
				if math.Abs(trainScores[i]-want) > 1e-12 {
					t.Errorf("train row %d: score %.17g, sklearn %.17g", i, trainScores[i], want)
				}
			}
			// offset_ as Fit computes it.
			f.offset = -0.5
			if c, ok := m.Params.Contamination.(float64); ok {
				f.contamination = c
				f.offset = percentileLinear(append([]float64(nil), trainScores...), 100.0*c)
			}
			if math.Abs(f.offset-m.Offset) > 1e-12 {
				t.Errorf("offset %.17g, sklearn %.17g", f.offset, m.Offset)
			}

			probe := flatten(m.XProbe)
			n := len(m.XProbe)
			scores, decision, labels := make([]float64, n), make([]float64, n), make([]int, n)
			if err := f.ScoreSamples(probe, cols, scores); err != nil {
				t.Fatal(err)
			}
			if err := f.DecisionFunction(probe, cols, decision); err != nil {
				t.Fatal(err)
			}
			if err := f.Predict(probe, cols, labels); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if math.Abs(scores[i]-m.ScoreSamples[i]) > 1e-12 {
					t.Errorf("probe %d %v: score %.17g, sklearn %.17g", i, m.XProbe[i], scores[i], m.ScoreSamples[i])
				}
				if math.Abs(decision[i]-m.DecisionFunction[i]) > 1e-12 {
					t.Errorf("probe %d: decision %.17g, sklearn %.17g", i, decision[i], m.DecisionFunction[i])
				}
				if labels[i] != m.Predict[i] {
					t.Errorf("probe %d: predict %d, sklearn %d (decision %.17g)", i, labels[i], m.Predict[i], m.DecisionFunction[i])
				}
			}
		})
	}
}

type aucSet struct {
	name     string
	x        []float64
	cols     int
	labels   []int
	skScore  []float64 // sklearn's score_samples, mean over seeds
	skStd    []float64 // and its standard deviation over seeds
	seeds    int
	skAUC    float64
	skAUCStd float64
}

func loadAUCSets(t *testing.T) []aucSet {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", "iforest_auc_summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	summary, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var sets []aucSet
	for _, rec := range summary[1:] {
		s := aucSet{name: rec[0], cols: int(num(rec[2])), seeds: int(num(rec[4])), skAUC: num(rec[5]), skAUCStd: num(rec[6])}
		dh, err := os.Open(filepath.Join("testdata", "iforest_auc_"+s.name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(dh).ReadAll()
		dh.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows[1:] {
			for j := range s.cols {
				s.x = append(s.x, num(r[j]))
			}
			s.labels = append(s.labels, int(num(r[s.cols])))
			s.skScore = append(s.skScore, num(r[s.cols+1]))
			s.skStd = append(s.skStd, num(r[s.cols+2]))
		}
		if len(s.labels) != int(num(rec[1])) {
			t.Fatalf("%s: %d rows, summary says %s", s.name, len(s.labels), rec[1])
		}
		sets = append(sets, s)
	}
	return sets
}

// TestAUCMatchesSklearn fits our forest on five of the ODDS sets of the
// Isolation Forest paper (Breastw, Ionosphere, Pima, Satellite, Shuttle,
// rebuilt as ODDS builds them from the UCI data R's mlbench ships; see
// testdata/gen_iforest_fixtures.py) and on data sets scikit-learn ships
// (breast cancer, wine as ODDS builds Wine, digits one class vs the rest,
// Gaussian blobs and a correlated heavy-tailed set with planted anomalies),
// and checks that the ROC AUC, averaged over many seeds, is scikit-learn's
// within ±0.01. Seeds matter because neither library can
// reproduce the other's random stream: a single seed's AUC varies by up to
// ±0.035 (sd) on the small sets, so both sides average enough seeds (200
// for scikit-learn, 500 or 200 here) that the standard error of the
// difference is at most a third of the tolerance; the test logs it.
//
// It also compares each row's mean score with scikit-learn's. All rows of
// one forest move together (a forest of shallower trees lowers every
// score), so the differences are not independent across rows; the bound
// allows for that common shift.
func TestAUCMatchesSklearn(t *testing.T) {
	if testing.Short() {
		t.Skip("fits thousands of forests")
	}
	sets := loadAUCSets(t)
	have := map[string]bool{}
	for _, s := range sets {
		have[s.name] = true
	}
	for _, name := range []string{"breastw", "ionosphere", "pima", "satellite", "shuttle", "breast_cancer", "wine"} {
		if !have[name] {
			t.Errorf("iforest_auc_summary.csv has no %s set", name)
		}
	}
	for _, s := range sets {
		t.Run(s.name, func(t *testing.T) {
			// More seeds than sklearn's on the small sets: they are cheap here.
			seeds := 200
			if len(s.labels) < 1000 {
				seeds = 500
			}
			rows := len(s.labels)
			sum := make([]float64, rows)
			scores := make([]float64, rows)
			var aucSum, aucSq float64
			for seed := range seeds {
				_, err := FitScore(t.Context(), s.x, s.cols, withDefaults(Options{Seed: int64(seed)}), scores)
				if err != nil {
					t.Fatal(err)
				}
				auc := rocAUC(s.labels, scores)
				aucSum += auc
				aucSq += auc * auc
				for i, v := range scores {
					sum[i] += v
				}
			}
			ours := aucSum / float64(seeds)
			oursSD := math.Sqrt(math.Max(0, aucSq/float64(seeds)-ours*ours))
			se := math.Sqrt(oursSD*oursSD/float64(seeds) + s.skAUCStd*s.skAUCStd/float64(s.seeds))
			t.Logf("AUC ours %.4f (sd %.4f, %d seeds), sklearn %.4f (sd %.4f, %d seeds), diff %+.4f, se of diff %.4f",
				ours, oursSD, seeds, s.skAUC, s.skAUCStd, s.seeds, ours-s.skAUC, se)
			if d := math.Abs(ours - s.skAUC); d > 0.01 {
				t.Errorf("AUC %.4f vs sklearn %.4f: |diff| %.4f > 0.01", ours, s.skAUC, d)
			}

			// Per row: the mean score over seeds. The noise of the two
			// means bounds how close they can be expected to be.
			var absDiff, noise float64
			for i := range rows {
				absDiff += math.Abs(sum[i]/float64(seeds) - s.skScore[i])
				noise += s.skStd[i] * math.Sqrt(1/float64(s.seeds)+1/float64(seeds))
			}
			absDiff /= float64(rows)
			noise /= float64(rows)
			t.Logf("per-row mean score: mean |ours − sklearn| %.5f, seed noise (sd) %.5f", absDiff, noise)
			// Independent noise alone gives E|N(0, σ)| ≈ 0.8σ; the common
			// shift adds to it. Twice the noise plus 0.001 still catches a
			// systematic difference of a few thousandths in every score.
			if absDiff > 2*noise+0.001 {
				t.Errorf("per-row scores differ from sklearn's by %.5f on average, noise allows %.5f", absDiff, 2*noise+0.001)
			}
		})
	}
}

// rocAUC is the area under the ROC curve of scores where lower means more
// anomalous (score_samples), labels 1 = anomaly: the Mann–Whitney
// statistic with ties counted half, which is what roc_auc_score computes.
func rocAUC(labels []int, scores []float64) float64 {
	type pair struct {
		s float64
		y int
	}
	p := make([]pair, len(scores))
	for i := range scores {
		p[i] = pair{-scores[i], labels[i]} // higher = more anomalous
	}
	slices.SortFunc(p, func(a, b pair) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	var pos, neg float64
	for _, q := range p {
		if q.y == 1 {
			pos++
		} else {
			neg++
		}
	}
	// Sum of positive ranks with average ranks for ties.
	var rankSum float64
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j].s == p[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if p[k].y == 1 {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
