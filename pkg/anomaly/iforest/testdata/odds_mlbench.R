# Builds five of the ODDS anomaly-detection sets used by the Isolation Forest
# paper (Liu, Ting & Zhou 2008) from the UCI data that R's mlbench package
# ships (Debian: r-cran-mlbench), following the ODDS construction
# (https://odds.cs.stonybrook.edu). Called by gen_iforest_fixtures.py:
#
#     Rscript odds_mlbench.R OUTDIR
#
# writes OUTDIR/<set>.csv for set in breastw, ionosphere, pima, satellite,
# shuttle: numeric feature columns, then label (1 = anomaly), one row per
# point, in mlbench's row order.
suppressPackageStartupMessages(library(mlbench))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript odds_mlbench.R OUTDIR")
out <- args[1]

num <- function(f) as.numeric(as.character(f)) # factor levels are the numbers

put <- function(name, X, anomaly) {
  X <- as.data.frame(lapply(X, function(col) if (is.factor(col)) num(col) else as.numeric(col)))
  stopifnot(!anyNA(X), !anyNA(anomaly))
  names(X) <- paste0("f", seq_along(X) - 1)
  X$label <- as.integer(anomaly)
  # 17 significant digits: the doubles R holds, exactly.
  write.csv(format(X, digits = 17, trim = TRUE, scientific = FALSE, drop0trailing = TRUE),
            file.path(out, paste0(name, ".csv")), row.names = FALSE, quote = FALSE)
  cat(sprintf("%s: %d x %d, %d anomalies\n", name, nrow(X), ncol(X) - 1, sum(X$label)))
}

# Breastw: original Wisconsin breast cancer data (699 rows); ODDS drops the
# 16 rows with a missing Bare.nuclei and the Id -> 683 x 9, malignant = anomaly (239).
data(BreastCancer)
bc <- BreastCancer[complete.cases(BreastCancer), ]
put("breastw", bc[, 2:10], bc$Class == "malignant")

# Ionosphere: 351 x 34; ODDS drops the second attribute (constant 0) and
# keeps the first (0/1) -> 33 features, "bad" = anomaly (126).
data(Ionosphere)
put("ionosphere", Ionosphere[, c(1, 3:34)], Ionosphere$Class == "bad")

# Pima: 768 x 8, diabetes "pos" = anomaly (268). (mlbench's
# PimaIndiansDiabetes keeps the zeros that stand for missing values, as the
# UCI file and ODDS do; PimaIndiansDiabetes2 would turn them into NA.)
data(PimaIndiansDiabetes)
put("pima", PimaIndiansDiabetes[, 1:8], PimaIndiansDiabetes$diabetes == "pos")

# Satellite (Statlog Landsat, train + test = 6435 x 36): ODDS makes the three
# smallest classes the anomalies: UCI classes 2, 4, 5 = cotton crop, damp grey
# soil, vegetation stubble (703 + 626 + 707 = 2036).
data(Satellite)
small <- names(sort(table(Satellite$classes)))[1:3]
stopifnot(setequal(small, c("cotton crop", "damp grey soil", "vegetation stubble")))
put("satellite", Satellite[, 1:36], Satellite$classes %in% small)

# Shuttle (Statlog, train + test = 58000 x 9): ODDS drops class 4 (High,
# 8903 rows); class 1 (Rad.Flow) is normal, classes 2, 3, 5, 6, 7 are
# anomalies -> 49097 rows, 3511 anomalies.
data(Shuttle)
stopifnot(identical(levels(Shuttle$Class)[c(1, 4)], c("Rad.Flow", "High")))
sh <- Shuttle[Shuttle$Class != "High", ]
put("shuttle", sh[, 1:9], sh$Class != "Rad.Flow")
