//! Parameter products as small pure functions: grid, zip, and the matching
//! used by `sweep.include` / `sweep.exclude`.

use std::collections::BTreeMap;

use serde_json::Value;

/// One named list of values to sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: String,
    pub values: Vec<Value>,
}

/// A combination: parameter name -> value.
pub type Combo = BTreeMap<String, Value>;

/// Why a set of axes cannot be expanded.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepError {
    /// Zip members of unequal length: (name, length) of each member.
    ZipLengths(Vec<(String, usize)>),
    /// A parameter named in two zip groups.
    ZipOverlap(String),
    /// The product exceeds `limit` combinations.
    TooLarge { limit: u64 },
}

/// Groups axes for the product: the members of each zip group (those present)
/// become one joint axis; every other axis stands alone. Order: by the first
/// member's position in `axes`.
pub fn group(axes: &[Axis], zips: &[Vec<String>]) -> Result<Vec<Vec<Axis>>, SweepError> {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (g, zip) in zips.iter().enumerate() {
        for name in zip {
            if let Some(prev) = owner.insert(name.as_str(), g) {
                if prev != g {
                    return Err(SweepError::ZipOverlap(name.clone()));
                }
            }
        }
    }
    let mut groups: Vec<(Option<usize>, Vec<Axis>)> = Vec::new();
    for axis in axes {
        match owner.get(axis.name.as_str()) {
            Some(&g) => match groups.iter_mut().find(|(k, _)| *k == Some(g)) {
                Some((_, members)) => members.push(axis.clone()),
                None => groups.push((Some(g), vec![axis.clone()])),
            },
            None => groups.push((None, vec![axis.clone()])),
        }
    }
    for (_, members) in &groups {
        if members.iter().any(|a| a.values.len() != members[0].values.len()) {
            return Err(SweepError::ZipLengths(members.iter().map(|a| (a.name.clone(), a.values.len())).collect()));
        }
    }
    Ok(groups.into_iter().map(|(_, members)| members).collect())
}

/// How many combinations `groups` yield (None past u64).
pub fn count(groups: &[Vec<Axis>]) -> Option<u64> {
    groups.iter().try_fold(1u64, |acc, g| acc.checked_mul(g.first().map_or(1, |a| a.values.len() as u64)))
}

/// The cartesian product over `groups` (zip members advance together),
/// in lexicographic order of the groups. Refuses more than `limit` combinations.
pub fn product(groups: &[Vec<Axis>], limit: u64) -> Result<Vec<Combo>, SweepError> {
    match count(groups) {
        Some(n) if n <= limit => {}
        _ => return Err(SweepError::TooLarge { limit }),
    }
    let mut combos = vec![Combo::new()];
    for group in groups {
        let len = group.first().map_or(0, |a| a.values.len());
        let mut next = Vec::with_capacity(combos.len() * len);
        for combo in &combos {
            for i in 0..len {
                let mut c = combo.clone();
                for axis in group {
                    c.insert(axis.name.clone(), axis.values[i].clone());
                }
                next.push(c);
            }
        }
        combos = next;
    }
    Ok(combos)
}

/// Whether two parameter values are equal (numbers by value: 1 == 1.0).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Whether `wanted` (a value, or a list of alternatives) admits `actual`.
pub fn admits(wanted: &Value, actual: &Value) -> bool {
    match wanted {
        Value::Array(options) if !actual.is_array() => options.iter().any(|o| same_value(o, actual)),
        _ => same_value(wanted, actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn axis(name: &str, values: Vec<Value>) -> Axis {
        Axis { name: name.into(), values }
    }

    #[test]
    fn grid_is_the_full_product_in_order() {
        let axes = [axis("a", vec![json!(1), json!(2)]), axis("b", vec![json!("x"), json!("y"), json!("z")])];
        let combos = product(&group(&axes, &[]).unwrap(), 100).unwrap();
        assert_eq!(combos.len(), 6);
        assert_eq!(combos[0]["a"], json!(1));
        assert_eq!(combos[0]["b"], json!("x"));
        assert_eq!(combos[5]["a"], json!(2));
        assert_eq!(combos[5]["b"], json!("z"));
    }

    #[test]
    fn zip_members_advance_together() {
        let axes = [axis("a", vec![json!(1), json!(2)]), axis("b", vec![json!(10), json!(20)]), axis("c", vec![json!(0), json!(5)])];
        let zips = vec![vec!["a".to_string(), "b".to_string()]];
        let combos = product(&group(&axes, &zips).unwrap(), 100).unwrap();
        assert_eq!(combos.len(), 4);
        for c in &combos {
            assert_eq!(c["b"].as_i64().unwrap(), c["a"].as_i64().unwrap() * 10);
        }
    }

    #[test]
    fn zip_of_unequal_lengths_is_refused() {
        let axes = [axis("a", vec![json!(1), json!(2)]), axis("b", vec![json!(1)])];
        let zips = vec![vec!["a".to_string(), "b".to_string()]];
        assert_eq!(group(&axes, &zips), Err(SweepError::ZipLengths(vec![("a".into(), 2), ("b".into(), 1)])));
    }

    #[test]
    fn a_parameter_in_two_zip_groups_is_refused() {
        let axes = [axis("a", vec![json!(1)]), axis("b", vec![json!(1)]), axis("c", vec![json!(1)])];
        let zips = vec![vec!["a".to_string(), "b".to_string()], vec!["b".to_string(), "c".to_string()]];
        assert_eq!(group(&axes, &zips), Err(SweepError::ZipOverlap("b".into())));
    }

    #[test]
    fn huge_products_are_refused_before_materialising() {
        let axes: Vec<Axis> = (0..30).map(|i| axis(&format!("p{i}"), vec![json!(1), json!(2), json!(3)])).collect();
        let groups = group(&axes, &[]).unwrap();
        assert_eq!(product(&groups, 1000), Err(SweepError::TooLarge { limit: 1000 }));
    }

    #[test]
    fn an_empty_axis_empties_the_product() {
        let axes = [axis("a", vec![]), axis("b", vec![json!(1)])];
        assert!(product(&group(&axes, &[]).unwrap(), 10).unwrap().is_empty());
    }

    #[test]
    fn matching_compares_numbers_by_value_and_accepts_alternatives() {
        assert!(same_value(&json!(1), &json!(1.0)));
        assert!(!same_value(&json!(1), &json!("1")));
        assert!(admits(&json!([5, 10]), &json!(10)));
        assert!(!admits(&json!([5, 10]), &json!(20)));
        assert!(admits(&json!("inf"), &json!("inf")));
    }
}
