package adapters

// This file embeds the TRIZ data the contradiction node uses: the 39
// standard engineering parameters (the subset it accepts), the 40 inventive
// principles, and the contradiction-matrix cells among that subset.

// trizParam is one of Altshuller's 39 engineering parameters.
type trizParam struct {
	num  int
	slug string // the name the payload uses
	name string // the standard English name
}

// trizParams is the subset of the 39 parameters that describe a software
// pipeline: speed, stability, power and energy, losses, reliability,
// accuracy, operability, adaptability, complexity, observability,
// automation and productivity. Numbers are the standard ones.
var trizParams = []trizParam{
	{9, "speed", "Speed"},
	{13, "stability", "Stability of the object's composition"},
	{21, "power", "Power"},
	{22, "loss_of_energy", "Loss of energy"},
	{24, "loss_of_information", "Loss of information"},
	{25, "loss_of_time", "Loss of time"},
	{26, "quantity_of_substance", "Quantity of substance"},
	{27, "reliability", "Reliability"},
	{28, "measurement_accuracy", "Measurement accuracy"},
	{33, "ease_of_operation", "Ease of operation"},
	{35, "adaptability", "Adaptability or versatility"},
	{36, "device_complexity", "Device complexity"},
	{37, "difficulty_of_detecting", "Difficulty of detecting and measuring"},
	{38, "extent_of_automation", "Extent of automation"},
	{39, "productivity", "Productivity"},
}

// trizPrinciples are the 40 inventive principles, by number (index 0 is
// unused).
var trizPrinciples = [41]string{
	"",
	"Segmentation", "Taking out", "Local quality", "Asymmetry", "Merging",
	"Universality", "Nested doll", "Anti-weight", "Preliminary anti-action", "Preliminary action",
	"Beforehand cushioning", "Equipotentiality", "The other way round", "Spheroidality", "Dynamics",
	"Partial or excessive actions", "Another dimension", "Mechanical vibration", "Periodic action", "Continuity of useful action",
	"Skipping", "Blessing in disguise", "Feedback", "Intermediary", "Self-service",
	"Copying", "Cheap short-living objects", "Mechanics substitution", "Pneumatics and hydraulics", "Flexible shells and thin films",
	"Porous materials", "Color changes", "Homogeneity", "Discarding and recovering", "Parameter changes",
	"Phase transitions", "Thermal expansion", "Strong oxidants", "Inert atmosphere", "Composite materials",
}

// trizMatrix holds Altshuller's contradiction-matrix cells among
// trizParams: {improving, worsening} → principles, in the matrix's order
// (most often used first). Values are those of the classic 39×39 matrix as
// tabulated by G. Tennant (2003); a pair that is absent is an empty cell,
// for which the matrix proposes nothing.
var trizMatrix = map[[2]int][]int{
	{9, 13}: {28, 33, 1, 18}, {9, 21}: {19, 35, 38, 2}, {9, 22}: {14, 20, 19, 35}, {9, 24}: {13, 26},
	{9, 26}: {10, 19, 29, 38}, {9, 27}: {11, 35, 27, 28}, {9, 28}: {28, 32, 1, 24}, {9, 33}: {32, 28, 13, 12},
	{9, 35}: {15, 10, 26}, {9, 36}: {10, 28, 4, 34}, {9, 37}: {3, 34, 27, 16}, {9, 38}: {10, 18},
	{13, 9}: {33, 15, 28, 18}, {13, 21}: {32, 35, 27, 31}, {13, 22}: {14, 2, 39, 6}, {13, 25}: {35, 27},
	{13, 26}: {15, 32, 35}, {13, 28}: {13}, {13, 33}: {32, 35, 30}, {13, 35}: {35, 30, 34, 2},
	{13, 36}: {2, 35, 22, 26}, {13, 37}: {35, 22, 39, 23}, {13, 38}: {1, 8, 35}, {13, 39}: {23, 35, 40, 3},
	{21, 9}: {15, 35, 2}, {21, 13}: {35, 32, 15, 31}, {21, 22}: {10, 35, 38}, {21, 24}: {10, 19},
	{21, 25}: {35, 20, 10, 6}, {21, 26}: {4, 34, 19}, {21, 27}: {19, 24, 26, 31}, {21, 28}: {32, 15, 2},
	{21, 33}: {26, 35, 10}, {21, 35}: {19, 17, 34}, {21, 36}: {20, 19, 30, 34}, {21, 37}: {19, 35, 16},
	{21, 38}: {28, 2, 17}, {21, 39}: {28, 35, 34},
	{22, 9}: {16, 35, 38}, {22, 13}: {14, 2, 39, 6}, {22, 21}: {3, 38}, {22, 24}: {19, 10},
	{22, 25}: {10, 18, 32, 7}, {22, 26}: {7, 18, 25}, {22, 27}: {11, 10, 35}, {22, 28}: {32},
	{22, 33}: {35, 32, 1}, {22, 36}: {7, 23}, {22, 37}: {35, 3, 15, 23}, {22, 38}: {2},
	{22, 39}: {28, 10, 29, 35},
	{24, 9}:  {26, 32}, {24, 21}: {10, 19}, {24, 22}: {19, 10}, {24, 25}: {24, 26, 28, 32},
	{24, 26}: {24, 28, 35}, {24, 27}: {10, 28, 23}, {24, 33}: {27, 22}, {24, 37}: {35, 33},
	{24, 38}: {35}, {24, 39}: {13, 23, 15},
	{25, 13}: {35, 3, 22, 5}, {25, 21}: {35, 20, 10, 6}, {25, 22}: {10, 5, 18, 32}, {25, 24}: {24, 26, 28, 32},
	{25, 26}: {35, 38, 18, 16}, {25, 27}: {10, 30, 4}, {25, 28}: {24, 34, 28, 32}, {25, 33}: {4, 28, 10, 34},
	{25, 35}: {35, 28}, {25, 36}: {6, 29}, {25, 37}: {18, 28, 32, 10}, {25, 38}: {24, 28, 35, 30},
	{26, 9}: {35, 29, 34, 28}, {26, 13}: {15, 2, 17, 40}, {26, 21}: {35}, {26, 22}: {7, 18, 25},
	{26, 24}: {24, 28, 35}, {26, 25}: {35, 38, 18, 16}, {26, 27}: {18, 3, 28, 40}, {26, 28}: {13, 2, 28},
	{26, 33}: {35, 29, 25, 10}, {26, 35}: {15, 3, 29}, {26, 36}: {3, 13, 27, 10}, {26, 37}: {3, 27, 29, 18},
	{26, 38}: {8, 35}, {26, 39}: {13, 29, 3, 27},
	{27, 9}: {21, 35, 11, 28}, {27, 21}: {21, 11, 26, 31}, {27, 22}: {10, 11, 35}, {27, 24}: {10, 28},
	{27, 25}: {10, 30, 4}, {27, 26}: {21, 28, 40, 3}, {27, 28}: {32, 3, 11, 23}, {27, 33}: {27, 17, 40},
	{27, 35}: {13, 35, 8, 24}, {27, 36}: {13, 35, 1}, {27, 37}: {27, 40, 28}, {27, 38}: {11, 13, 27},
	{27, 39}: {1, 35, 29, 38},
	{28, 9}:  {28, 13, 32, 24}, {28, 13}: {32, 35, 13}, {28, 21}: {3, 6, 32}, {28, 22}: {26, 32, 27},
	{28, 25}: {24, 34, 28, 32}, {28, 26}: {2, 6, 32}, {28, 27}: {5, 11, 1, 23}, {28, 33}: {1, 13, 17, 34},
	{28, 35}: {13, 35, 2}, {28, 36}: {27, 35, 10, 34}, {28, 37}: {26, 24, 32, 28}, {28, 38}: {28, 2, 10, 34},
	{28, 39}: {10, 34, 28, 32},
	{33, 9}:  {18, 13, 34}, {33, 13}: {32, 35, 30}, {33, 21}: {35, 34, 2, 10}, {33, 22}: {2, 19, 13},
	{33, 24}: {4, 10, 27, 22}, {33, 25}: {4, 28, 10, 34}, {33, 26}: {12, 35}, {33, 27}: {17, 27, 8, 40},
	{33, 28}: {25, 13, 2, 34}, {33, 35}: {15, 34, 1, 16}, {33, 36}: {32, 26, 12, 17}, {33, 38}: {1, 34, 12, 3},
	{33, 39}: {15, 1, 28},
	{35, 9}:  {35, 10, 14}, {35, 13}: {35, 30, 14}, {35, 21}: {19, 1, 29}, {35, 22}: {18, 15, 1},
	{35, 25}: {35, 28}, {35, 26}: {3, 35, 15}, {35, 27}: {35, 13, 8, 24}, {35, 28}: {35, 5, 1, 10},
	{35, 33}: {15, 34, 1, 16}, {35, 36}: {15, 29, 37, 28}, {35, 37}: {1}, {35, 38}: {27, 34, 35},
	{35, 39}: {35, 28, 6, 37},
	{36, 9}:  {34, 10, 28}, {36, 13}: {2, 22, 17, 19}, {36, 21}: {20, 19, 30, 34}, {36, 22}: {10, 35, 13, 2},
	{36, 25}: {6, 29}, {36, 26}: {13, 3, 27, 10}, {36, 27}: {13, 35, 1}, {36, 28}: {2, 26, 10, 34},
	{36, 33}: {27, 9, 26, 24}, {36, 35}: {29, 15, 28, 37}, {36, 37}: {15, 10, 37, 28}, {36, 38}: {15, 1, 24},
	{36, 39}: {12, 17, 28},
	{37, 9}:  {3, 4, 16, 35}, {37, 13}: {11, 22, 39, 30}, {37, 21}: {18, 1, 16, 10}, {37, 22}: {35, 3, 15, 19},
	{37, 24}: {35, 33, 27, 22}, {37, 25}: {18, 28, 32, 9}, {37, 26}: {3, 27, 29, 18}, {37, 27}: {27, 40, 28, 8},
	{37, 28}: {26, 24, 32, 28}, {37, 33}: {2, 5}, {37, 35}: {1, 15}, {37, 36}: {15, 10, 37, 28},
	{37, 38}: {34, 21}, {37, 39}: {35, 18},
	{38, 9}: {28, 10}, {38, 13}: {18, 1}, {38, 21}: {28, 2, 27}, {38, 22}: {23, 28},
	{38, 24}: {35, 33}, {38, 25}: {24, 28, 35, 30}, {38, 26}: {35, 13}, {38, 27}: {11, 27, 32},
	{38, 28}: {28, 26, 10, 34}, {38, 33}: {1, 12, 34, 3}, {38, 35}: {27, 4, 1, 35}, {38, 36}: {15, 24, 10},
	{38, 37}: {34, 27, 25}, {38, 39}: {5, 12, 35, 26},
	{39, 13}: {35, 3, 22, 39}, {39, 21}: {35, 20, 10}, {39, 22}: {28, 10, 29, 35}, {39, 24}: {13, 15, 23},
	{39, 26}: {35, 38}, {39, 27}: {1, 35, 10, 38}, {39, 28}: {1, 10, 34, 28}, {39, 33}: {1, 28, 7, 10},
	{39, 35}: {1, 35, 28, 37}, {39, 36}: {12, 17, 28, 24}, {39, 37}: {35, 18, 27, 2}, {39, 38}: {5, 12, 35, 26},
}
