//! The selection rules on small trees whose numbers are worked out by hand
//! in each test. Every tree is chosen so that a plausible wrong rule picks
//! something else, and each test checks that it does.

use super::*;
use crate::search::lme::choice_probs;

const EXACT: f64 = 1e-12;

fn assert_close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= EXACT, "{what}: {got} vs {want}");
}

fn argmax(xs: &[f64]) -> usize {
    (0..xs.len()).fold(0, |b, i| if xs[i] > xs[b] { i } else { b })
}

/// MCTS node s with n(s) = 10, reward bounds (−0.5, 1.5), c_uct = 1 and
/// three expanded children (token, prior, w_sum, n):
/// (0, 0.3, 6.6, 6), (1, 0.1, 1.0, 2), (2, 0.2, −0.5, 1).
const UCT_KIDS: [(u32, f64, f64, u64); 3] = [(0, 0.3, 6.6, 6), (1, 0.1, 1.0, 2), (2, 0.2, -0.5, 1)];
const UCT_BOUNDS: Option<(f64, f64)> = Some((-0.5, 1.5));

fn uct_arms() -> Vec<Arm> {
    UCT_KIDS.iter().map(|&(token, prior, w, n)| Arm { token, prior, q: normalised_value(w, n, UCT_BOUNDS), visits: n }).collect()
}

#[test]
fn q_tilde_is_the_mean_scaled_by_the_reward_bounds() {
    // Means 1.1, 0.5, −0.5 over the range 2 from −0.5: Q̃ = 0.8, 0.5, 0.
    for (arm, want) in uct_arms().iter().zip([0.8, 0.5, 0.0]) {
        assert_close(arm.q, want, "Q̃");
    }
    // No visit, equal bounds or no bounds yet: 0.
    assert_eq!(normalised_value(3.0, 0, UCT_BOUNDS), 0.0);
    assert_eq!(normalised_value(3.0, 2, Some((0.4, 0.4))), 0.0);
    assert_eq!(normalised_value(3.0, 2, None), 0.0);
}

#[test]
fn uct_scores_and_picks_the_argmax() {
    // Q̃ + 1·√(ln 10 / n(c)), ln 10 = 2.302585:
    //   token 0: 0.8 + √(2.302585/6) = 0.8 + 0.619487 = 1.419487
    //   token 1: 0.5 + √(2.302585/2) = 0.5 + 1.072983 = 1.572983  ← argmax
    //   token 2: 0.0 + √(2.302585/1) = 1.517427
    let want = [0.8 + (10f64.ln() / 6.0).sqrt(), 0.5 + (10f64.ln() / 2.0).sqrt(), 10f64.ln().sqrt()];
    assert_close(want[0], 1.419487031474973, "hand value 0");
    assert_close(want[1], 1.5729830131446736, "hand value 1");
    assert_close(want[2], 1.5174271293851465, "hand value 2");
    let arms = uct_arms();
    for (arm, w) in arms.iter().zip(want) {
        assert_close(uct_score(arm.q, 1.0, 10, arm.visits), w, "UCT score");
    }
    assert_eq!(mcts_pick(Explore::Uct(1.0), 10, 0.0, &arms, &[]), Some(Pick::Child(1)));
    // Wrong rules on the same node pick other children:
    // without the log, Q̃ + √(10/n) = 2.091, 2.736, 3.162 → token 2;
    let no_log: Vec<f64> = arms.iter().map(|a| a.q + (10.0 / a.visits as f64).sqrt()).collect();
    assert_eq!(argmax(&no_log), 2);
    // on raw means instead of Q̃, 1.1 + 0.619, 0.5 + 1.073, −0.5 + 1.517 → token 0.
    let raw: Vec<f64> = UCT_KIDS.iter().map(|&(_, _, w, n)| w / n as f64 + (10f64.ln() / n as f64).sqrt()).collect();
    assert_eq!(argmax(&raw), 0);
    // A child that was never visited scores +∞.
    assert_eq!(uct_score(0.3, 1.0, 10, 0), f64::INFINITY);
}

#[test]
fn uct_expands_untried_actions_first_highest_prior_first() {
    // The same children plus untried (7, 0.10), (5, 0.15), (6, 0.15): any
    // untried action beats every child; the largest prior is 0.15, held by
    // tokens 5 and 6, and the tie goes to the smaller token, 5 (index 1).
    let untried = [(7, 0.10), (5, 0.15), (6, 0.15)];
    assert_eq!(mcts_pick(Explore::Uct(1.0), 10, 0.0, &uct_arms(), &untried), Some(Pick::Untried(1)));
    // Taking the list's first entry would expand token 7; scoring untried
    // actions like visited ones would descend into the best child, token 1.
    assert_eq!(untried[0].0, 7);
    assert_eq!(mcts_pick(Explore::Uct(1.0), 10, 0.0, &uct_arms(), &[]), Some(Pick::Child(1)));
}

/// PUCT node s: n(s) = 9, w_sum(s) = 3.6, bounds (−1, 1), so Q̃(s) = (0.4 + 1)/2
/// = 0.7; children (token, prior, w_sum, n) = (0, 0.4, 3.5, 5), (1, 0.25, 0.3, 3)
/// with Q̃ 0.85 and 0.55; untried (2, 0.2), (3, 0.15).
fn puct_node() -> (f64, Vec<Arm>, [(u32, f64); 2]) {
    let bounds = Some((-1.0, 1.0));
    let kids = [(0, 0.4, 3.5, 5), (1, 0.25, 0.3, 3)];
    let arms = kids.iter().map(|&(token, prior, w, n)| Arm { token, prior, q: normalised_value(w, n, bounds), visits: n }).collect();
    (normalised_value(3.6, 9, bounds), arms, [(2, 0.2), (3, 0.15)])
}

/// The PUCT scores on [`puct_node`] at c_puct = `c`, children then untried
/// actions (scored through first-play urgency), and the pick.
fn check_puct(c: f64, want: [f64; 4], pick: Pick) {
    let (q_s, arms, untried) = puct_node();
    let fpu = first_play_urgency(9, q_s);
    let kids = arms.iter().map(|a| puct_score(a.q, c, a.prior, 9, a.visits));
    let new = untried.iter().map(|&(_, p)| puct_score(fpu, c, p, 9, 0));
    for (got, w) in kids.chain(new).zip(want) {
        assert_close(got, w, &format!("PUCT score at c = {c}"));
    }
    assert_eq!(mcts_pick(Explore::Puct(c), 9, q_s, &arms, &untried), Some(pick));
}

#[test]
fn puct_scores_untried_actions_with_the_parent_value() {
    let (q_s, _, _) = puct_node();
    assert_close(q_s, 0.7, "Q̃(s)");
    assert_close(first_play_urgency(9, q_s), 0.7, "fpu");
    // c_puct = 1, √9 = 3:
    //   token 0: 0.85 + 0.4·3/(1+5)  = 1.05
    //   token 1: 0.55 + 0.25·3/(1+3) = 0.7375
    //   token 2 (untried): 0.7 + 0.2·3/1  = 1.3   ← argmax
    //   token 3 (untried): 0.7 + 0.15·3/1 = 1.15
    check_puct(1.0, [1.05, 0.7375, 1.3, 1.15], Pick::Untried(0));
    // With fpu = 0 instead of Q̃(s), the untried scores are 0.6 and 0.45 and
    // token 0 (1.05) wins.
    let fpu_zero = [1.05, 0.7375, puct_score(0.0, 1.0, 0.2, 9, 0), puct_score(0.0, 1.0, 0.15, 9, 0)];
    assert_close(fpu_zero[2], 0.6, "fpu 0, token 2");
    assert_eq!(argmax(&fpu_zero), 0);
}

#[test]
fn puct_prefers_a_child_when_its_score_is_higher() {
    // c_puct = 0.25:
    //   token 0: 0.85 + 0.25·0.4·3/6   = 0.9      ← argmax
    //   token 1: 0.55 + 0.25·0.25·3/4  = 0.596875
    //   token 2: 0.7 + 0.25·0.2·3      = 0.85
    //   token 3: 0.7 + 0.25·0.15·3     = 0.8125
    check_puct(0.25, [0.9, 0.596875, 0.85, 0.8125], Pick::Child(0));
    // UCT's "untried first" would expand token 2 instead.
    let (q_s, arms, untried) = puct_node();
    assert_eq!(mcts_pick(Explore::Uct(0.25), 9, q_s, &arms, &untried), Some(Pick::Untried(0)));
}

#[test]
fn puct_with_no_visit_ranks_by_prior() {
    // n(s) = 0: fpu = 0 whatever Q̃(s) says, √0 = 0, so every untried action
    // scores 0 and the tie goes to the larger prior: (4, 0.5) at index 1.
    assert_eq!(first_play_urgency(0, 0.9), 0.0);
    let untried = [(3, 0.2), (4, 0.5), (1, 0.3)];
    for (_, p) in untried {
        assert_eq!(puct_score(first_play_urgency(0, 0.9), 2.0, p, 0, 0), 0.0);
    }
    assert_eq!(mcts_pick(Explore::Puct(2.0), 0, 0.9, &[], &untried), Some(Pick::Untried(1)));
}

/// DTS* node: n(s) = 9, c_uct = 0.5 in reward units, children (token,
/// weight m_a, v̂, n) = (0, 4, −0.2, 6), (1, 2, −0.3, 2), (2, 1, −0.6, 1).
fn dts_star_node() -> (Vec<Choice>, Vec<u64>) {
    let kids = [(0, 4.0, -0.2, 6), (1, 2.0, -0.3, 2), (2, 1.0, -0.6, 1)];
    (kids.iter().map(|&(token, weight, value, _)| Choice { weight, value, token }).collect(), kids.iter().map(|k| k.3).collect())
}

#[test]
fn dts_star_scores_raw_soft_values() {
    // v̂ + 0.5·√(ln 9 / n), ln 9 = 2.197225:
    //   token 0: −0.2 + 0.5·√(2.197225/6) = −0.2 + 0.302574 = 0.102574
    //   token 1: −0.3 + 0.5·√(2.197225/2) = −0.3 + 0.524074 = 0.224074  ← argmax
    //   token 2: −0.6 + 0.5·√(2.197225/1) = −0.6 + 0.741152 = 0.141152
    let want = [0.10257399765293085, 0.22407353698410254, 0.14115190368375563];
    let (opts, visits) = dts_star_node();
    for ((o, &n), w) in opts.iter().zip(&visits).zip(want) {
        assert_close(uct_score(o.value, 0.5, 9, n), w, "DTS* score");
    }
    assert_eq!(soft_uct_pick(0.5, 9, &opts, &visits), Some(1));
    // Without the log: −0.2 + 0.5·√(9/6) = 0.412, 0.761, 0.9 → token 2.
    let no_log: Vec<f64> = opts.iter().zip(&visits).map(|(o, &n)| o.value + 0.5 * (9.0 / n as f64).sqrt()).collect();
    assert_eq!(argmax(&no_log), 2);
    // Normalised as MCTS does, with the values' range (−0.6, −0.2) as bounds:
    // 1 + 0.303, 0.75 + 0.524, 0 + 0.741 → token 0.
    let scaled: Vec<f64> = opts.iter().zip(&visits).map(|(o, &n)| (o.value + 0.6) / 0.4 + 0.5 * (9f64.ln() / n as f64).sqrt()).collect();
    assert_eq!(argmax(&scaled), 0);
}

#[test]
fn dts_star_top_k_tries_unvisited_children_first_highest_weight_first() {
    // A visited child with a large value (v̂ = 5, n = 3 of n(s) = 3) and
    // unvisited children of weight 0.2 (token 1), 0.3 (token 2), 0.3 (token 3):
    // unvisited ones score +∞, the largest weight is 0.3, and the tie goes
    // to the smaller token, 2 (index 2).
    let opts = [
        Choice { weight: 0.2, value: 5.0, token: 0 },
        Choice { weight: 0.2, value: 0.0, token: 1 },
        Choice { weight: 0.3, value: 0.0, token: 2 },
        Choice { weight: 0.3, value: 0.0, token: 3 },
    ];
    let visits = [3, 0, 0, 0];
    assert_eq!(uct_score(0.0, 1.0, 3, 0), f64::INFINITY);
    assert_eq!(soft_uct_pick(1.0, 3, &opts, &visits), Some(2));
    // Scoring unvisited children as v = 0 with one visit (0 + √ln 3 = 1.048)
    // instead picks the visited one (5 + 1.048).
    let as_zero: Vec<f64> = opts.iter().map(|o| o.value + (3f64.ln() / 1.0).sqrt()).collect();
    assert_eq!(argmax(&as_zero), 0);
    // Once every child is visited, the finite scores decide: values 5, 0, 0, 0.
    assert_eq!(soft_uct_pick(1.0, 6, &opts, &[3, 1, 1, 1]), Some(0));
}

/// MaxEnt-TS node with v̂(s) = −0.3 and λ = 1.5; children (token, w_a, v̂):
/// (0, 0.5, −0.2) visited, (1, 0.3, –) and (2, 0.2, –) unvisited.
const MAXENT_KIDS: [TopKChild; 3] = [
    TopKChild { token: 0, weight: 0.5, value: Some(-0.2) },
    TopKChild { token: 1, weight: 0.3, value: None },
    TopKChild { token: 2, weight: 0.2, value: None },
];

#[test]
fn maxent_ts_unvisited_children_take_the_parent_estimate() {
    // ṽ = (−0.2, −0.3, −0.3): P ∝ 0.5·e^{−0.3}, 0.3·e^{−0.45}, 0.2·e^{−0.45}
    //   = 0.537430, 0.277542, 0.185028.
    let (tilt, choices) = maxent_choices(Tilt::Soft(1.5), Some(-0.3), &MAXENT_KIDS);
    assert_eq!(tilt, Tilt::Soft(1.5));
    let u = [0.5 * (-0.3f64).exp(), 0.3 * (-0.45f64).exp(), 0.2 * (-0.45f64).exp()];
    let z: f64 = u.iter().sum();
    let want = [0.5374298453437495, 0.27754209279375025, 0.1850280618625002];
    for ((p, x), w) in choice_probs(tilt, &choices).into_iter().zip(u).zip(want) {
        assert_close(p, x / z, "MaxEnt-TS selection");
        assert_close(p, w, "MaxEnt-TS selection (decimal)");
    }
    // Unvisited read as v = 0: P ∝ 0.5·e^{−0.3}, 0.3, 0.2 = 0.4256, 0.3447, 0.2298.
    let zero: Vec<Choice> =
        MAXENT_KIDS.iter().map(|k| Choice { weight: k.weight, value: k.value.unwrap_or(0.0), token: k.token }).collect();
    let wrong = choice_probs(Tilt::Soft(1.5), &zero);
    assert!((wrong[0] - want[0]).abs() > 0.1, "{wrong:?}");
}

#[test]
fn maxent_ts_without_a_parent_estimate_picks_by_weight() {
    // No v̂(s) yet (first visit): P = w_a = 0.5, 0.3, 0.2 at every λ.
    let unvisited: Vec<TopKChild> = MAXENT_KIDS.iter().map(|k| TopKChild { value: None, ..*k }).collect();
    for lambda in [Tilt::Mean, Tilt::Soft(1.5), Tilt::Max] {
        let (tilt, choices) = maxent_choices(lambda, None, &unvisited);
        assert_eq!(tilt, Tilt::Mean);
        for (p, w) in choice_probs(tilt, &choices).into_iter().zip([0.5, 0.3, 0.2]) {
            assert_close(p, w, "pick ∝ w");
        }
    }
    // Keeping λ = ∞ with the equal fallback values would put all mass on
    // token 0 (the largest weight wins the tie) instead of 0.5.
    let (_, choices) = maxent_choices(Tilt::Max, None, &unvisited);
    assert_eq!(choice_probs(Tilt::Max, &choices), vec![1.0, 0.0, 0.0]);
}
